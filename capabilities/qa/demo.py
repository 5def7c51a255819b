"""Document Q&A's part of the quickstart demo: the organization's documents
indexed for questions. Documents uploaded while Q&A is on are indexed after
their extraction anyway; this indexes those uploaded before."""

from __future__ import annotations

from capabilities import is_enabled
from capabilities.qa import actions
from portal.models import Organization, User


def create(organization: Organization, actor: User) -> list[str]:
    if not is_enabled(organization, "qa"):
        return []
    job = actions.index_existing(organization, actor)
    return [f"documents queued for indexing (job {job.pk})"] if job is not None else []
