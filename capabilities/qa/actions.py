"""State changes of Document Q&A: asking a question (answered, stored, and
billed once when answered) and queueing the indexing of documents."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from capabilities import is_enabled
from capabilities.actions import CapabilityDisabled, start_job
from capabilities.capability_settings import capability_setting
from capabilities.documents.models import Document
from capabilities.models import Job
from capabilities.qa import answers, queries
from capabilities.qa.models import Question
from capabilities.registry import registry
from metering import ledger
from portal.actions.errors import ActionError
from portal.audit import Origin
from portal.models import Organization, User

CAPABILITY = "qa"


class UnknownDocuments(ActionError):
    """Document ids the organization does not have (the API answers 404)."""

    def __init__(self, ids: list[int]) -> None:
        listed = ", ".join(str(pk) for pk in ids)
        super().__init__(f"Your organization has no document with id {listed}.", "unknown_documents")
        self.ids = ids


def validate_question(question: str) -> str:
    """The question, stripped; ActionError if it is empty or too long."""
    # PostgreSQL's text holds no NUL character; nobody means one in a question.
    question = question.replace("\x00", "").strip()
    limit = capability_setting(CAPABILITY, "MAX_QUESTION_CHARS")
    if not question:
        raise ActionError("Type a question to ask your documents.", "question_empty")
    if len(question) > limit:
        raise ActionError(
            f"A question may be at most {limit:,} characters long; this one has {len(question):,}.",
            "question_too_long",
        )
    return question


def _documents(organization: Organization, ids: Sequence[int | Document] | None) -> list[Document] | None:
    if not ids:
        return None
    wanted = [item.pk if isinstance(item, Document) else item for item in ids]
    if not all(isinstance(pk, int) and not isinstance(pk, bool) for pk in wanted):
        raise ActionError("Document ids are whole numbers.", "invalid_documents")
    found = list(Document.objects.filter(organization=organization, pk__in=wanted))
    missing = sorted(set(wanted) - {document.pk for document in found})
    if missing:
        raise UnknownDocuments(missing)
    return found


def ask_question(
    actor: User | None,
    organization: Organization,
    question: str,
    *,
    documents: Sequence[int | Document] | None = None,
    origin: Origin | None = None,
) -> tuple[Question, answers.Answer]:
    """Answer `question` from the organization's documents (or the chosen
    ones), store it in the history and, when an answer was found, count one
    `questions` unit, keyed by the stored question: once, whatever happens."""
    question = validate_question(question)
    if not is_enabled(organization, CAPABILITY):
        raise CapabilityDisabled(registry().get(CAPABILITY).title)
    chosen = _documents(organization, documents)
    # Retrieval and the model run outside the transaction: it holds no lock
    # while the CPU works.
    result = answers.answer(organization, question, documents=chosen)
    with transaction.atomic(durable=True):
        stored = Question.objects.create(
            organization=organization,
            asked_by=actor if actor is not None and actor.pk else None,
            question=question,
            document_ids=[document.pk for document in chosen or []],
            mode=result.mode,
            answer=result.text,
            citations=[citation.as_json() for citation in result.citations],
        )
        if result.text is not None:
            ledger.append(
                [
                    ledger.UsageRecord(
                        organization_id=organization.pk,
                        capability=CAPABILITY,
                        meter="questions",
                        quantity=1,
                        occurred_at=stored.asked_at,
                        idempotency_key=stored.usage_key,
                        created_by_id=stored.asked_by_id,
                        properties={"question": stored.pk},
                    )
                ]
            )
    return stored, result


def index_extracted(extraction_job_id: int) -> Job | None:
    """Queue the indexing of the document an extraction job (that succeeded)
    read, if Q&A is on for its organization."""
    extraction = Job.objects.select_related("organization").get(pk=extraction_job_id)
    document_id = (extraction.input or {}).get("document_id")
    if not isinstance(document_id, int) or not is_enabled(extraction.organization, CAPABILITY):
        return None
    if not Document.objects.filter(pk=document_id, organization=extraction.organization).exists():
        return None
    return start_job(
        None,
        extraction.organization,
        CAPABILITY,
        kind="index_document",
        job_input={"document_id": document_id},
        source=Job.Source.AUTOMATIC,
    )


def index_existing(
    organization: Organization, actor: User | None = None, *, every: bool = False
) -> Job | None:
    """Queue the indexing of every document of `organization` not indexed yet
    or indexed with older passage settings (with `every`, of all of them);
    none queued when there is nothing to index, and the job under way when
    one that does as much is queued or running already."""
    if not queries.documents_to_index(organization.pk, every=every).exists():
        return None
    running = queries.indexing_job(organization, "index_all")
    if running is not None and (bool((running.input or {}).get("every")) or not every):
        return running
    return start_job(
        actor,
        organization,
        CAPABILITY,
        kind="index_all",
        job_input={"every": True} if every else None,
        source=Job.Source.PERSON if actor is not None else Job.Source.AUTOMATIC,
    )
