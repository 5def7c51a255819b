"""Tests of the tenancy actions, one module per topic of `portal.actions`."""

from portal.models import AuditEntry


def actions_logged() -> list[str]:
    """The audit log's actions, oldest first."""
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
