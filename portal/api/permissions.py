"""API permission classes shared by every app's endpoints.

Organization-scoped views get `OrganizationMember` from REST_FRAMEWORK's
DEFAULT_PERMISSION_CLASSES (which also refuses a suspended organization), and
the system check `portal.checks.api_views_keep_tenancy` fails when a view under
/api/v1/ drops it without saying why in `tenancy_opt_out`."""

from collections.abc import Collection
from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from portal.api.authentication import ApiKeyClient, request_organization, request_role
from portal.models import MANAGING_ROLES, SCOPE_ROLES, ApiKeyScope, Organization


class OrganizationSuspended(exceptions.PermissionDenied):
    default_detail = "This organization is suspended; the API is unavailable until it is reactivated."
    default_code = "organization_suspended"


class NoOrganization(exceptions.PermissionDenied):
    default_detail = "You are not a member of an organization."
    default_code = "no_organization"


class InsufficientScope(exceptions.PermissionDenied):
    default_detail = "This API key's scope does not allow this request."
    default_code = "insufficient_scope"


def _scope_needed(roles: Collection[str]) -> str | None:
    """The narrowest scope whose role is among `roles`."""
    for scope in (ApiKeyScope.READ, ApiKeyScope.USE, ApiKeyScope.MANAGE):
        if SCOPE_ROLES[scope] in roles:
            return str(scope)
    return None


def require_role(request: Request, roles: Collection[str], message: str) -> None:
    """Refuse (403) unless the caller acts as one of `roles`: a member by their
    role (`message`), an API key by its scope (`insufficient_scope`)."""
    if request_role(request) in roles:
        return
    user = request.user
    if isinstance(user, ApiKeyClient):
        needed = _scope_needed(roles)
        raise InsufficientScope(
            f"This API key has the {user.scope} scope; this request needs "
            + (f"a key with the {needed} scope." if needed else "a signed-in member.")
        )
    raise exceptions.PermissionDenied(message)


class ActiveOrganization(permissions.BasePermission):
    """Requests made with an API key act for an active organization only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, ApiKeyClient) and not user.organization.is_active:
            raise OrganizationSuspended()
        return True


class OrganizationMember(permissions.BasePermission):
    """The caller acts for an active organization (API key or session member).
    A `read` key may only read (GET, HEAD, OPTIONS). Views that change things set
    `managing_roles_for = {"PUT", ...}` to need an owner or admin (a `manage`
    key) for those methods."""

    message = "Only owners and admins of the organization can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        organization = request_organization(request)
        if organization is None:
            raise NoOrganization()
        if not organization.is_active:
            raise OrganizationSuspended()
        user = request.user
        if (
            isinstance(user, ApiKeyClient)
            and user.scope == ApiKeyScope.READ
            and request.method not in permissions.SAFE_METHODS
        ):
            raise InsufficientScope(
                "This API key has the read scope: it may only read (GET). "
                "Use a key with the use or manage scope."
            )
        if request.method in getattr(view, "managing_roles_for", ()):
            require_role(request, MANAGING_ROLES, self.message)
        return True


def organization_of(request: Request) -> Organization:
    """The organization of a request that passed OrganizationMember."""
    organization = request_organization(request)
    assert organization is not None
    return organization
