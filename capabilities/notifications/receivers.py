"""Listens to other capabilities' finished jobs (capabilities.signals.job_finished)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def on_job_finished(
    sender: Any, *, job_id: int, organization_id: int, capability: str, status: str, **kwargs: Any
) -> None:
    """Queue the notifications a finished job asks for. Runs in the worker right
    after the job's outcome committed: cheap (no query while notifications are
    off for the organization, one indexed query when no rule matches) and it
    never raises, so the job is unaffected by what happens here."""
    if capability == "notifications":
        if status == "refused":
            _give_up_refused_attempt(job_id)
        return
    if status == "refused":
        return  # a job that never ran is neither a success nor a failure to notify
    from capabilities.notifications.actions import notify_job_finished

    try:
        notify_job_finished(
            job_id=job_id, organization_id=organization_id, capability=capability, status=status
        )
    except Exception:
        logger.exception("Notifications for job %s (%s, org %s) failed", job_id, capability, organization_id)


def on_contract_deadline_near(sender: Any, *, organization_id: int, contract_id: int, **kwargs: Any) -> None:
    """Queue the notifications a near contract deadline asks for (the
    framework's `contract_deadline_near`). Never raises."""
    from capabilities.notifications.actions import notify_contract_deadline

    try:
        notify_contract_deadline(
            organization_id=organization_id,
            contract_id=contract_id,
            capability=kwargs["capability"],
            document_name=kwargs["document_name"],
            notice_deadline=kwargs["notice_deadline"],
            days_left=kwargs["days_left"],
            url=kwargs["url"],
        )
    except Exception:
        logger.exception(
            "Deadline notifications for contract %s (org %s) failed", contract_id, organization_id
        )


def _give_up_refused_attempt(job_id: int) -> None:
    """A `deliver` job refused by the runner (notifications switched off, or the
    organization suspended, after it was queued) ends its delivery as failed
    instead of leaving it pending for good."""
    from capabilities.models import Job
    from capabilities.notifications.actions import give_up
    from capabilities.notifications.models import Delivery

    try:
        job = Job.objects.get(pk=job_id)
        delivery_id = (job.input or {}).get("delivery")
        delivery = (
            Delivery.objects.filter(organization_id=job.organization_id, pk=int(delivery_id)).first()
            if delivery_id is not None
            else None
        )
        if delivery is not None:
            give_up(delivery, f"Not sent: {job.error or 'the job was refused'}")
    except Exception:
        logger.exception("Could not end the delivery of refused job %s", job_id)
