"""Template context every page needs: the organization switcher, the
navigation the signed-in user's roles allow, and the alerts banner."""

from typing import Any

from django.http import HttpRequest

from portal import alerts
from portal.models import Membership, User


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    # An API key's principal (ApiKeyClient) is not a person: no navigation.
    if not isinstance(user, User) or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    memberships = Membership.objects.filter(user=user).select_related("organization")
    return {
        "current_membership": membership,
        "current_organization": getattr(request, "organization", None),
        "switchable_memberships": memberships,
        "can_manage_org": bool(membership and membership.can_manage),
        "is_it_admin": user.is_staff,
        "is_finance": user.is_finance,
    }


def alert_banner(request: HttpRequest) -> dict[str, Any]:
    """The organization's open alerts for its owners and billing members (not
    plain members or admins, who are not alerted). A lazy queryset: one
    indexed query, made only by a page that shows the banner (never by an
    htmx fragment)."""
    user = getattr(request, "user", None)
    membership = getattr(request, "membership", None)
    if not isinstance(user, User) or membership is None or membership.role not in alerts.ALERTED_ROLES:
        return {}
    return {"banner_alerts": alerts.banner_alerts(membership.organization, user)}
