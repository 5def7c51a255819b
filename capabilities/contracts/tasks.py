"""The daily deadline check (beat): announce each contract whose notice
deadline is near on the framework's `contract_deadline_near` signal."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.urls import reverse
from django.utils import timezone

from capabilities import is_enabled
from capabilities.capability_settings import capability_setting
from capabilities.contracts import actions, queries
from capabilities.contracts.apps import ANNOUNCE_TASK
from capabilities.signals import announce_contract_deadline

logger = logging.getLogger(__name__)


def announce_deadlines(today: date | None = None) -> int:
    """Send the signal once today per contract and deadline within
    CONTRACTS_DEADLINE_WARNING_DAYS (of organizations with the tracker on);
    a second run the same day sends nothing. Returns how many were sent."""
    today = today or timezone.localdate()
    actions.roll_deadlines(today)
    sent = 0
    for contract in queries.deadlines_within(today, capability_setting("contracts", "DEADLINE_WARNING_DAYS")):
        if not is_enabled(contract.organization_id, "contracts"):
            continue
        deadline = contract.next_notice_deadline
        assert deadline is not None
        days_left = (deadline - today).days
        if not actions.record_announcement(contract, deadline, today, days_left):
            continue
        announce_contract_deadline(
            organization_id=contract.organization_id,
            capability="contracts",
            contract_id=contract.pk,
            document_name=contract.document.name,
            notice_deadline=deadline,
            days_left=days_left,
            url=reverse("contracts:contract", args=[contract.pk]),
        )
        sent += 1
    return sent


@shared_task(name=ANNOUNCE_TASK, ignore_result=True)
def announce_deadlines_task() -> None:
    sent = announce_deadlines()
    logger.info("Announced %s contract deadline(s)", sent)
