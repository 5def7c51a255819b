"""Template context every page needs: the organization switcher and the
navigation the signed-in user's roles allow."""

from typing import Any

from django.http import HttpRequest

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
