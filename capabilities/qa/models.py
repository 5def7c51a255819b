"""Passages of the organization's documents, embedded and full-text indexed for
questions, and the questions asked (the history, and the key of their usage)."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

from capabilities.documents.models import Document, Page
from portal.models import Organization, User

DIMENSIONS = 384  # all-MiniLM-L6-v2


class Passage(models.Model):
    """A run of whole sentences of one page: `text == page.text[start:end]`."""

    # Denormalised so retrieval filters one table by tenant before ranking.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="+")
    page_number = models.PositiveIntegerField()
    start = models.PositiveIntegerField()  # character offsets in the page's text
    end = models.PositiveIntegerField()
    text = models.TextField()
    embedding = VectorField(dimensions=DIMENSIONS)
    # The passage settings (QA_PASSAGE_CHARS, QA_PASSAGE_OVERLAP) it was cut
    # with: a document whose passages were cut with others is re-indexed.
    cut_chars = models.PositiveIntegerField()
    cut_overlap = models.PositiveIntegerField()
    # PostgreSQL's tsvector of `text`, in Documents' text search configuration.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["document", "page_number", "start"]
        indexes = [
            models.Index(fields=["organization", "document"]),
            GinIndex(fields=["search_vector"], name="qa_passage_search"),
            HnswIndex(
                name="qa_passage_embedding",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} p. {self.page_number} [{self.start}:{self.end}]"


class Question(models.Model):
    class Mode(models.TextChoices):
        EXTRACTIVE = "extractive", "Extractive"
        GENERATIVE = "generative", "Generative"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    asked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    question = models.TextField()
    # The documents it was asked of (ids); empty for all of them.
    document_ids = models.JSONField(default=list, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.EXTRACTIVE)
    answer = models.TextField(null=True, blank=True)  # None: no answer found
    citations = models.JSONField(default=list, blank=True)
    asked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-asked_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-asked_at"])]

    def __str__(self) -> str:
        return self.question[:80]

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def usage_key(self) -> str:
        return f"qa:question:{self.pk}"
