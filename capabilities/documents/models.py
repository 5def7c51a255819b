"""Uploaded documents and the text of their pages. A document's state is its
extraction job's (queued, running, succeeded, failed): one source of truth."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

from capabilities.models import Job
from portal.models import Organization, User


def upload_path(document: Document, filename: str) -> str:
    """Per organization, and a fresh folder per upload so equal names never clash."""
    return f"documents/org-{document.organization_id}/{uuid.uuid4().hex}/{PurePath(filename).name}"


class Document(models.Model):
    class Kind(models.TextChoices):
        PDF = "pdf", "PDF"
        DOCX = "docx", "Word document"
        TXT = "txt", "Text"
        PNG = "png", "PNG image"
        JPEG = "jpeg", "JPEG image"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="documents")
    name = models.CharField(max_length=255)  # the file name as uploaded
    file = models.FileField(upload_to=upload_path, max_length=500)
    declared_kind = models.CharField(max_length=8, choices=Kind.choices)  # from the name, until read
    kind = models.CharField(max_length=8, choices=Kind.choices, blank=True)  # sniffed from the content
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    page_count = models.PositiveIntegerField(default=0)
    # Dates, amounts, references and parties found in the text (see fields.py).
    fields = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)  # what the extraction could not do, for the user
    # SHA-256 of the file as uploaded, and of the content the current pages were
    # extracted (and billed) from, by which job: an unchanged document is not
    # extracted, nor billed, twice.
    content_sha256 = models.CharField(max_length=64, blank=True)
    extracted_sha256 = models.CharField(max_length=64, blank=True)
    extracted_by = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-uploaded_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def status(self) -> str:
        return self.job.status if self.job else Job.Status.QUEUED


class Page(models.Model):
    class Method(models.TextChoices):
        TEXT = "text", "Text layer"
        OCR = "ocr", "OCR"
        NONE = "none", "No text"

    # No index of its own: the unique constraint (document, number) starts with it.
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="pages", db_index=False)
    # Denormalised so a search filters one table by tenant before ranking.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()  # from 1
    text = models.TextField(blank=True)
    method = models.CharField(max_length=8, choices=Method.choices)
    # PostgreSQL's tsvector of `text` (GIN-indexed), kept by search.py.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["document", "number"]
        constraints = [models.UniqueConstraint(fields=["document", "number"], name="documents_page_unique")]

    def __str__(self) -> str:
        return f"{self.document} p. {self.number}"
