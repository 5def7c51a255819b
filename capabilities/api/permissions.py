"""Enforcement for the API: routes of a capability answer 403
`capability_disabled` while it is off for the caller's organization."""

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from capabilities.gate import is_enabled
from capabilities.middleware import capability_of_route
from capabilities.queries import LockOff, lock_off
from capabilities.registry import CapabilityConfig, registry
from metering import api_calls
from portal.api.authentication import request_organization
from portal.api.permissions import NoOrganization, OrganizationSuspended


class CapabilityDisabledError(exceptions.PermissionDenied):
    default_code = "capability_disabled"

    def __init__(self, capability: CapabilityConfig, lock: LockOff | None = None) -> None:
        off = f"{capability.title} is switched off for your organization."
        super().__init__(
            f"{off} {lock.explanation(capability)}" if lock else f"{off} An owner or admin can switch it on."
        )


class CapabilityEnabledForRoute(permissions.BasePermission):
    """Applies to every API view; acts only on routes inside a capability's namespace."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = capability_of_route(request._request) or getattr(view, "capability_key", None)
        if key is None:
            return True
        organization = request_organization(request)
        if organization is None:
            raise NoOrganization()
        if not organization.is_active:
            raise OrganizationSuspended()
        if not is_enabled(organization, key):
            raise CapabilityDisabledError(registry().get(key), lock_off(organization, key))
        api_calls.attribute(request, key)
        return True
