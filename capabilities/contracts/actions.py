"""State changes of the contract tracker: store an analysis (keeping what
people corrected), correct a field (audited), record the deadlines announced."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from capabilities.contracts import corrections
from capabilities.contracts.fields import FIELDS, Finding, notice_deadline
from capabilities.contracts.models import Contract, ContractCorrection, DeadlineAnnouncement
from capabilities.documents.models import Document
from capabilities.models import Job
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import User

VALUE_FIELDS = (*FIELDS, "notice_deadline")


def store_analysis(
    document: Document, finding: Finding, *, job: Job | None = None, unless_analysed: bool = False
) -> Contract:
    """Write what the finder read in `document`. A field a person corrected
    keeps the correction; the notice deadline follows corrected dates.

    With `unless_analysed`, an analysis another job already stored of this same
    text stands and nothing is written: the contract returned names that job
    (`analysed_by`), which is the one that bills it. The contract's row lock
    orders two jobs that read the same text (the automatic analysis of a new
    extraction and the switch-on's analysis of every document)."""
    with transaction.atomic():
        contract, _ = Contract.objects.select_for_update().get_or_create(
            document=document, defaults={"organization_id": document.organization_id}
        )
        if unless_analysed and _analysed_by_another(contract, document, job):
            return contract
        corrected = set(contract.corrected)
        citations = {
            name: [citation.as_dict() for citation in cited] for name, cited in finding.citations.items()
        }
        computed = set(finding.computed)
        if "is_contract" not in corrected:
            contract.is_contract = finding.is_contract
        for name in VALUE_FIELDS:
            if name in corrected:
                citations.pop(name, None)
                computed.discard(name)
                continue
            setattr(contract, name, finding.value(name))
        _follow_corrections(contract, corrected, computed, citations)
        contract.citations = citations
        contract.computed = sorted(computed)
        contract.analysed_at = timezone.now()
        contract.analysed_by = job
        contract.source_sha256 = document.extracted_sha256
        contract.schedule(timezone.localdate())
        contract.save()
    return contract


def _analysed_by_another(contract: Contract, document: Document, job: Job | None) -> bool:
    return (
        contract.analysed_at is not None
        and bool(contract.source_sha256)
        and contract.source_sha256 == document.extracted_sha256
        and (job is None or contract.analysed_by_id != job.pk)
    )


def _follow_corrections(
    contract: Contract, corrected: set[str], computed: set[str], citations: dict[str, Any]
) -> None:
    """Values computed from others are computed again from corrected ones."""
    if "notice_deadline" in corrected:
        return
    if not ({"expiry_date", "notice_period_days", "auto_renews"} & corrected):
        return
    deadline = (
        notice_deadline(contract.expiry_date, contract.notice_period_days) if contract.auto_renews else None
    )
    contract.notice_deadline = deadline
    citations.pop("notice_deadline", None)
    if deadline is not None:
        computed.add("notice_deadline")
    else:
        computed.discard("notice_deadline")


def correct_contract(
    actor: User | None,
    contract: Contract,
    field: str,
    value: Any,
    *,
    note: str = "",
    origin: Origin | None = None,
) -> ContractCorrection:
    """Set `field` of `contract` to `value` (as typed or sent: a date text, a
    number, yes/no, a list; empty for unknown). The correction wins over every
    later analysis of the document. Raises ActionError with the reason for a
    value that cannot be the field's."""
    try:
        cleaned = corrections.clean_value(field, value)
    except corrections.InvalidCorrection as invalid:
        raise ActionError(str(invalid), "invalid_correction") from None
    if len(note) > 500:
        raise ActionError("The note may be at most 500 characters.", "invalid_correction")
    with transaction.atomic(durable=True):
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        old = getattr(locked, field)
        setattr(locked, field, cleaned)
        corrected = {*locked.corrected, field}
        computed = set(locked.computed) - {field}
        citations = dict(locked.citations)
        citations.pop(field, None)
        _follow_corrections(locked, corrected, computed, citations)
        locked.corrected = sorted(corrected)
        locked.computed = sorted(computed)
        locked.citations = citations
        locked.schedule(timezone.localdate())
        locked.save()
        correction = ContractCorrection.objects.create(
            contract=locked,
            organization_id=locked.organization_id,
            field=field,
            old_value=corrections.as_json(old),
            new_value=corrections.as_json(cleaned),
            note=note.strip(),
            corrected_by=actor if actor is not None and actor.pk else None,
        )
        record_audit(
            actor,
            "contracts.corrected",
            organization=locked.organization,
            target=locked,
            origin=origin,
            details={
                "document": locked.document_id,
                "field": field,
                "old": corrections.as_json(old),
                "new": corrections.as_json(cleaned),
                "note": note.strip(),
            },
        )
    contract.refresh_from_db()
    return correction


def roll_deadlines(today: date) -> int:
    """Move each contract whose next notice deadline or current term end passed
    to the deadline and end of its renewal term running now (the daily check,
    before it announces)."""
    moved = 0
    passed = Q(next_notice_deadline__lt=today) | (Q(current_term_end__lt=today) & ~Q(auto_renews=False))
    for contract in Contract.objects.filter(passed, is_contract=True).order_by("pk"):
        contract.schedule(today)
        contract.save(update_fields=["current_term_end", "next_notice_deadline"])
        moved += 1
    return moved


def record_announcement(contract: Contract, deadline: date, today: date, days_left: int) -> bool:
    """Note that the deadline signal goes out today for this contract and
    deadline; False when it went out today already (a second run)."""
    try:
        with transaction.atomic():
            DeadlineAnnouncement.objects.create(
                contract=contract, notice_deadline=deadline, announced_on=today, days_left=days_left
            )
    except IntegrityError:
        return False
    return True
