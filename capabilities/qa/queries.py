"""Read models of Document Q&A, always scoped to one organization: what is
indexed, the indexing under way, and the questions asked."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from capabilities.documents.models import Document, Page
from capabilities.models import Job
from capabilities.qa.models import Passage, Question
from capabilities.qa.passages import current_cut
from portal.models import Organization

RECENT = 10


def _has_text() -> Exists:
    return Exists(Page.objects.filter(document=OuterRef("pk")).exclude(text=""))


def _indexed() -> Exists:
    return Exists(Passage.objects.filter(document=OuterRef("pk")))


def _stale() -> Exists:
    """Some passage of the document was cut with other passage settings than the current ones."""
    cut = current_cut()
    return Exists(
        Passage.objects.filter(document=OuterRef("pk")).exclude(cut_chars=cut.chars, cut_overlap=cut.overlap)
    )


def documents_to_index(organization_id: int, *, every: bool = False) -> QuerySet[Document]:
    """Documents with extracted text not indexed yet or indexed with older
    passage settings (with `every`, all of them), oldest first."""
    readable = Document.objects.filter(organization_id=organization_id).filter(_has_text())
    if not every:
        readable = readable.filter(~_indexed() | _stale())
    return readable.order_by("uploaded_at", "pk")


def stale_documents(organization_id: int) -> QuerySet[Document]:
    """Documents indexed with older passage settings than the current ones."""
    return Document.objects.filter(organization_id=organization_id).filter(_stale())


@dataclass(frozen=True)
class IndexState:
    documents: int  # documents with text
    indexed: int  # of those, indexed
    passages: int
    running: list[Job]  # indexing jobs queued or running
    stale: int = 0  # of the indexed, cut with older passage settings

    @property
    def pending(self) -> int:
        return self.documents - self.indexed


def index_state(organization: Organization) -> IndexState:
    readable = Document.objects.filter(organization=organization).filter(_has_text())
    return IndexState(
        documents=readable.count(),
        indexed=readable.filter(_indexed()).count(),
        passages=Passage.objects.filter(organization=organization).count(),
        stale=readable.filter(_stale()).count(),
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
