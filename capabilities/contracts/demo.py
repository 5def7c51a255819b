"""The Contract tracker's part of the quickstart demo: a hosting order form
written for the demo (`demo_files/`: it renews every three months with 30 days'
notice, so a notice deadline is always near), uploaded through Documents'
own action. Its extraction, like that of Documents' sample agreement and lease
notice, starts the tracker's analysis job: the tracker reads them as a worker
would."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile

from capabilities import is_enabled
from capabilities.documents import actions as documents
from capabilities.documents.models import Document
from portal.models import Organization, User

SAMPLES = Path(__file__).resolve().parent / "demo_files"


def create(organization: Organization, actor: User) -> list[str]:
    """Upload every sample contract `organization` doesn't hold yet (by name)."""
    if not is_enabled(organization, "contracts"):
        return []
    held = set(Document.objects.filter(organization=organization).values_list("name", flat=True))
    uploads: list[UploadedFile] = [
        SimpleUploadedFile(sample.name, sample.read_bytes())
        for sample in sorted(SAMPLES.iterdir())
        if sample.is_file() and sample.name not in held
    ]
    if not uploads:
        return []
    result = documents.upload_documents(actor, organization, uploads)
    lines = [
        f"{document.name} uploaded by {actor.email} to be read as a contract" for document in result.documents
    ]
    lines.extend(f"{rejection.name} refused: {rejection.message}" for rejection in result.rejected)
    return lines
