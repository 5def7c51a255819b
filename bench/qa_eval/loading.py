"""Loading files into a benchmark organization of their own through the
portal's code: uploaded as a person would (Documents' upload action), read by
the extraction job and indexed for questions by Q&A's jobs, both on a real
worker that the caller runs (queues cap.documents and cap.qa)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities import actions as capability_actions
from capabilities.documents.actions import upload_documents
from capabilities.documents.models import Document
from capabilities.models import Job
from portal.models import Membership, Organization, Role, User
from tests.workers import wait_for

QUEUES = "cap.documents,cap.qa"


def fresh_organization(
    prefix: str, *, capabilities: Sequence[str] = ("documents", "qa")
) -> tuple[Organization, User]:
    """A new organization (a run never sees an earlier run's documents) with
    an owner and `capabilities` switched on."""
    suffix = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(slug=f"{prefix}-{suffix}", name=f"Bench {prefix} {suffix}")
    owner, _ = User.objects.get_or_create(email="owner@bench.test", defaults={"full_name": "Bench Owner"})
    Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    for key in capabilities:
        capability_actions.set_capability_enabled(owner, organization, key, enabled=True, reason="benchmark")
    return organization, owner


def upload(owner: User, organization: Organization, files: Sequence[tuple[str, bytes]]) -> list[Document]:
    """Upload `files` (name, content), at most 20 a request as the form allows."""
    stored: list[Document] = []
    for begin in range(0, len(files), 20):
        uploads = [SimpleUploadedFile(name, content) for name, content in files[begin : begin + 20]]
        result = upload_documents(owner, organization, uploads)
        if result.rejected:
            raise RuntimeError(f"Uploads refused: {result.rejected}")
        stored.extend(result.documents)
    return stored


def wait_until_indexed(organization: Organization, documents: int, *, timeout: float = 1800) -> None:
    """Wait until each of `documents` extractions has queued its indexing job
    and every job of `organization` has finished; insist that all succeeded."""

    def settled() -> bool:
        jobs = Job.objects.filter(organization=organization)
        indexing = jobs.filter(capability="qa", kind="index_document").count()
        return indexing >= documents and not jobs.exclude(status__in=Job.FINISHED).exists()

    wait_for(settled, timeout, f"the jobs of {organization.slug}")
    failed = Job.objects.filter(organization=organization).exclude(status=Job.Status.SUCCEEDED)
    if failed.exists():
        raise RuntimeError(f"Jobs did not succeed: {list(failed.values_list('kind', 'status', 'error'))}")
