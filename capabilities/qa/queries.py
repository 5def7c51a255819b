"""Read models of Document Q&A, always scoped to one organization: what is
indexed, the indexing under way, and the questions asked."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from capabilities.documents.models import Document, Page
from capabilities.models import Job
from capabilities.qa.models import Passage, Question
from portal.models import Organization

RECENT = 10


def _has_text() -> Exists:
    return Exists(Page.objects.filter(document=OuterRef("pk")).exclude(text=""))


def _indexed() -> Exists:
    return Exists(Passage.objects.filter(document=OuterRef("pk")))


def unindexed_documents(organization_id: int) -> QuerySet[Document]:
    """Documents with extracted text and no passages yet, oldest first."""
    return (
        Document.objects.filter(organization_id=organization_id)
        .filter(_has_text())
        .exclude(_indexed())
        .order_by("uploaded_at", "pk")
    )


@dataclass(frozen=True)
class IndexState:
    documents: int  # documents with text
    indexed: int  # of those, indexed
    passages: int
    running: list[Job]  # indexing jobs queued or running

    @property
    def pending(self) -> int:
        return self.documents - self.indexed


def index_state(organization: Organization) -> IndexState:
    readable = Document.objects.filter(organization=organization).filter(_has_text())
    return IndexState(
        documents=readable.count(),
        indexed=readable.filter(_indexed()).count(),
        passages=Passage.objects.filter(organization=organization).count(),
        running=list(
            Job.objects.filter(
                organization=organization,
                capability="qa",
                status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
            ).order_by("pk")
        ),
    )


def indexing_job(organization: Organization, kind: str) -> Job | None:
    """A queued or running indexing job of `kind`, if any."""
    return (
        Job.objects.filter(
            organization=organization,
            capability="qa",
            kind=kind,
            status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
        )
        .order_by("pk")
        .first()
    )


def recent_questions(organization: Organization, limit: int = RECENT) -> QuerySet[Question]:
    return Question.objects.filter(organization=organization).select_related("asked_by")[:limit]


def questions(organization: Organization) -> QuerySet[Question]:
    return Question.objects.filter(organization=organization)
