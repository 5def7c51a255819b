"""Fixtures of the Document Q&A tests: uploads in a temporary media folder,
Q&A (with Documents) on for acme and globex, and documents uploaded,
extracted and indexed by the in-process runner, as a worker would."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities.actions import set_capability_enabled
from capabilities.documents import actions as documents
from capabilities.documents.models import Document
from capabilities.models import Job
from capabilities.runner import _run
from portal.models import Organization, User

SERVICES_AGREEMENT = """MASTER SERVICES AGREEMENT

This Master Services Agreement is made between Acme Corp and Harborview Imaging LLC.

1. Term. This Agreement starts on 1 March 2026 and runs for an initial term of two years. \
It renews automatically for successive one-year terms unless either party gives notice of non-renewal.

2. Termination. Either party may terminate this Agreement for convenience by giving ninety (90) days' \
written notice to the other party. The Supplier may suspend the services if an invoice remains unpaid \
for more than 60 days.

3. Fees. The Customer pays a monthly fee of USD 4,500 for the imaging services, invoiced in advance.

4. Governing law. This Agreement is governed by the laws of the State of New York.
"""

WAREHOUSE_MEMO = """MEMO: Warehouse move

The Boston warehouse moves to 12 Harbor Street on 14 April. Forklifts are booked for the weekend. \
Staff parking is on level two of the new building. Questions go to the facilities team.
"""


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def qa_on(alice, acme) -> None:
    set_capability_enabled(alice, acme, "qa", enabled=True, include_related=True)


@pytest.fixture
def qa_on_globex(gina, globex) -> None:
    set_capability_enabled(gina, globex, "qa", enabled=True, include_related=True)


def run_queued(organization: Organization, capability: str) -> list[Job]:
    """Run the organization's queued jobs of `capability`, in order, as a worker would."""
    ran = []
    while True:
        job = (
            Job.objects.filter(organization=organization, capability=capability, status=Job.Status.QUEUED)
            .order_by("pk")
            .first()
        )
        if job is None:
            return ran
        _run(job.pk)
        job.refresh_from_db()
        ran.append(job)


@pytest.fixture
def uploaded(alice, acme) -> Callable[..., list[Document]]:
    """`uploaded(("a.txt", b"..."), ...)`: upload, extract and (when Q&A is on) index."""

    def make(
        *files: tuple[str, str | bytes], organization: Organization | None = None, actor: User | None = None
    ):
        organization = organization or acme
        result = documents.upload_documents(
            actor or alice,
            organization,
            [
                SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)
                for name, content in files
            ],
        )
        run_queued(organization, "documents")
        run_queued(organization, "qa")
        for document in result.documents:
            document.refresh_from_db()
        return result.documents

    return make


@pytest.fixture
def documents_on_only(alice, acme) -> None:
    """Documents on, Q&A off."""
    set_capability_enabled(alice, acme, "documents", enabled=True)


@pytest.fixture
def library(qa_on, uploaded) -> list[Document]:
    """A services agreement and a warehouse memo, uploaded, read and indexed for acme."""
    return uploaded(("msa.txt", SERVICES_AGREEMENT), ("memo.txt", WAREHOUSE_MEMO))
