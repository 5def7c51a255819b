"""The contract tracker's quickstart demo: two sample contracts uploaded
through Documents (their extraction, then analysis, run where Celery runs)."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities.documents.actions import upload_documents
from capabilities.documents.models import Document
from portal.models import Organization, User

SAMPLES = Path(__file__).parent / "demo_files"


def create(organization: Organization, actor: User) -> list[str]:
    made = []
    for sample in sorted(SAMPLES.glob("*.txt")):
        if Document.objects.filter(organization=organization, name=sample.name).exists():
            continue
        upload_documents(actor, organization, [SimpleUploadedFile(sample.name, sample.read_bytes())])
        made.append(f"Contract tracker: uploaded the sample contract {sample.name}")
    return made
