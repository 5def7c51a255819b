"""Listens to other capabilities' finished jobs (capabilities.signals.job_finished)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def on_job_finished(
    sender: Any, *, job_id: int, organization_id: int, capability: str, status: str, **kwargs: Any
) -> None:
    """Queue the notifications a finished job asks for. Runs in the worker right
    after the job's outcome committed: cheap (one indexed query when no rule
    matches) and it never raises, so the job is unaffected by what happens here."""
    if capability == "notifications":
        return
    from capabilities.notifications.actions import notify_job_finished

    try:
        notify_job_finished(
            job_id=job_id, organization_id=organization_id, capability=capability, status=status
        )
    except Exception:
        logger.exception("Notifications for job %s (%s, org %s) failed", job_id, capability, organization_id)
