"""API permission classes shared by every app's endpoints."""

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from portal.api.authentication import ApiKeyClient, request_organization
from portal.models import MANAGING_ROLES, Membership, Organization


class OrganizationSuspended(exceptions.PermissionDenied):
    default_detail = "This organization is suspended; the API is unavailable until it is reactivated."
    default_code = "organization_suspended"


class NoOrganization(exceptions.PermissionDenied):
    default_detail = "You are not a member of an organization."
    default_code = "no_organization"


class ActiveOrganization(permissions.BasePermission):
    """Requests made with an API key act for an active organization only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, ApiKeyClient) and not user.organization.is_active:
            raise OrganizationSuspended()
        return True


class OrganizationMember(permissions.BasePermission):
    """The caller acts for an active organization (API key or session member).
    Views that change things set `managing_roles_for = {"PUT", ...}` to need an
    owner or admin for those methods (an API key counts as one: owners and
    admins create keys)."""

    message = "Only owners and admins of the organization can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        organization = request_organization(request)
        if organization is None:
            raise NoOrganization()
        if not organization.is_active:
            raise OrganizationSuspended()
        if request.method in getattr(view, "managing_roles_for", ()) and not isinstance(
            request.user, ApiKeyClient
        ):
            membership: Membership | None = getattr(request._request, "membership", None)
            return membership is not None and membership.role in MANAGING_ROLES
        return True


def organization_of(request: Request) -> Organization:
    """The organization of a request that passed OrganizationMember."""
    organization = request_organization(request)
    assert organization is not None
    return organization
