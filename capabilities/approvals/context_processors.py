"""The navigation's Requests badge for owners and admins: the requests
waiting for their decision, from the cached approval state (no query on a
warm page)."""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from capabilities.approvals import queries
from portal.models import MANAGING_ROLES, User


def requests_badge(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    membership = getattr(request, "membership", None)
    if not isinstance(user, User) or membership is None or membership.role not in MANAGING_ROLES:
        return {}
    organization = membership.organization
    if not organization.is_active:
        return {}
    return {"requests_awaiting": queries.state(organization).awaiting(user.pk, timezone.now())}
