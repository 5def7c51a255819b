"""Read models of Documents for the pages and the API, always scoped to one
organization."""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet

from capabilities.documents.models import Document, Page
from capabilities.models import Job
from portal.models import Organization


def documents(organization: Organization) -> QuerySet[Document]:
    return Document.objects.filter(organization=organization).select_related("job", "uploaded_by")


def pages(document: Document) -> QuerySet[Page]:
    return document.pages.order_by("number").defer("search_vector")


def content_hash(document: Document) -> str:
    """SHA-256 of the document's stored file: recorded at upload; documents
    uploaded before it was recorded are read once to compute it."""
    if document.content_sha256:
        return document.content_sha256
    digest = hashlib.sha256()
    with document.file.open("rb") as stored:
        for chunk in stored.chunks():
            digest.update(chunk)
    return digest.hexdigest()


def paid_extraction(document: Document, content_sha256: str, *, other_than: int | None = None) -> Job | None:
    """The succeeded job (other than `other_than`) whose extraction of exactly
    this content the document's pages come from, or None: its pages were
    billed, so extracting the same content again must not bill them twice.
    An extraction recorded before hashes were (no `extracted_sha256`) was of
    the same file: a document's file is never replaced."""
    if document.extracted_sha256 and document.extracted_sha256 != content_sha256:
        return None
    if document.extracted_by_id is None or document.extracted_by_id == other_than:
        return None
    return Job.objects.filter(pk=document.extracted_by_id, status=Job.Status.SUCCEEDED).first()


def extraction_in_progress(document: Document) -> Job | None:
    """A queued or running extraction of the document, if any."""
    return (
        Job.objects.filter(
            organization_id=document.organization_id,
            capability="documents",
            kind="extract",
            input__document_id=document.pk,
            status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
        )
        .order_by("pk")
        .first()
    )
