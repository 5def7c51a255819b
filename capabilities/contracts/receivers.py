"""Listens to the framework's signals: a document's extraction succeeded
(analyse it), the tracker was switched on (analyse the existing documents)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

KEY = "contracts"


def on_job_finished(
    sender: Any, *, job_id: int, organization_id: int, capability: str, kind: str, status: str, **kwargs: Any
) -> None:
    """Start an `analyse` job for a document whose extraction succeeded, when
    the tracker is on for its organization. Never raises: the extraction is
    done whatever happens here."""
    if capability != "documents" or kind != "extract" or status != "succeeded":
        return
    from capabilities import is_enabled

    if not is_enabled(organization_id, KEY):
        return
    from capabilities.actions import start_job
    from capabilities.models import Job

    try:
        job = Job.objects.select_related("organization").get(pk=job_id)
        result = job.result or {}
        if "unchanged_since_job" in result or not isinstance(result.get("document_id"), int):
            return  # the same text as before: its analysis stands
        start_job(
            None,
            job.organization,
            KEY,
            kind="analyse",
            job_input={"document_id": result["document_id"]},
            source=Job.Source.AUTOMATIC,
        )
    except Exception:
        logger.exception(
            "Could not start the contract analysis after job %s (org %s)", job_id, organization_id
        )


def on_capability_toggled(
    sender: Any, *, organization: Any, capability_key: str, enabled: bool, actor: Any = None, **kwargs: Any
) -> None:
    """Switched on: analyse the organization's documents already extracted."""
    if capability_key != KEY or not enabled:
        return
    from capabilities.actions import start_job
    from capabilities.models import Job

    try:
        start_job(None, organization, KEY, kind="analyse_all", source=Job.Source.AUTOMATIC)
    except Exception:
        logger.exception("Could not start analysing the existing documents of org %s", organization.pk)
