"""API permission classes shared by every app's endpoints."""

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from portal.api.authentication import ApiKeyClient


class OrganizationSuspended(exceptions.PermissionDenied):
    default_detail = "This organization is suspended; the API is unavailable until it is reactivated."
    default_code = "organization_suspended"


class ActiveOrganization(permissions.BasePermission):
    """Requests made with an API key act for an active organization only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, ApiKeyClient) and not user.organization.is_active:
            raise OrganizationSuspended()
        return True
