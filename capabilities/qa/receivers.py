"""Listens to the framework's signals: a document whose extraction succeeded
is indexed, and switching Q&A on indexes the documents already there. Both run
after the change committed and never raise."""

from __future__ import annotations

import logging
from typing import Any

from capabilities import is_enabled

logger = logging.getLogger(__name__)


def on_job_finished(
    sender: Any, *, job_id: int, organization_id: int, capability: str, kind: str, status: str, **kwargs: Any
) -> None:
    if capability != "documents" or kind != "extract" or status != "succeeded":
        return
    try:
        if not is_enabled(organization_id, "qa"):
            return
        from capabilities.qa.actions import index_extracted

        index_extracted(job_id)
    except Exception:
        logger.exception("Could not queue the indexing after job %s (org %s)", job_id, organization_id)


def on_capability_toggled(
    sender: Any, *, organization: Any, capability_key: str, enabled: bool, **kwargs: Any
) -> None:
    if capability_key != "qa" or not enabled:
        return
    from capabilities.qa.actions import index_existing

    try:
        index_existing(organization)
    except Exception:
        logger.exception("Could not queue the indexing of %s's documents", organization)
