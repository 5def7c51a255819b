"""Documents' part of the quickstart demo: a few short business documents
written for the demo (an invoice, a services agreement with its termination
clause and renewal date, a lease renewal notice, a memo; `demo_files/`),
uploaded and extracted through the capability's own action and job."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile

from capabilities.documents import actions
from capabilities.documents.models import Document
from portal.models import Organization, User

SAMPLES = Path(__file__).resolve().parent / "demo_files"


def create(organization: Organization, actor: User) -> list[str]:
    """Upload every sample `organization` doesn't hold yet (by name)."""
    held = set(Document.objects.filter(organization=organization).values_list("name", flat=True))
    uploads: list[UploadedFile] = [
        SimpleUploadedFile(sample.name, sample.read_bytes())
        for sample in sorted(SAMPLES.iterdir())
        if sample.is_file() and sample.name not in held
    ]
    if not uploads:
        return []
    result = actions.upload_documents(actor, organization, uploads)
    lines = []
    for document in result.documents:
        document.refresh_from_db()
        status = document.job.get_status_display().lower() if document.job else "queued"
        lines.append(f"{document.name} uploaded by {actor.email}: extraction {status}")
    lines.extend(f"{rejection.name} refused: {rejection.message}" for rejection in result.rejected)
    return lines
