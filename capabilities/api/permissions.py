"""Enforcement for the API: routes of a capability answer 403
`capability_disabled` while it is off for the caller's organization, and 402
`budget_exhausted` while a reached stop budget covers it."""

from decimal import Decimal
from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from capabilities.gate import BudgetStop, budget_refusal, budget_stop, is_enabled
from capabilities.middleware import capability_of_route
from capabilities.queries import LockOff, lock_off
from capabilities.registry import Capability, registry
from metering import api_calls
from portal.api.authentication import request_organization
from portal.api.permissions import NoOrganization, OrganizationSuspended


class CapabilityDisabledError(exceptions.PermissionDenied):
    default_code = "capability_disabled"

    def __init__(self, capability: Capability, lock: LockOff | None = None) -> None:
        off = f"{capability.title} is switched off for your organization."
        super().__init__(
            f"{off} {lock.explanation(capability)}" if lock else f"{off} An owner or admin can switch it on."
        )


class BudgetExhaustedError(exceptions.APIException):
    """402: a reached `stop` budget covers the capability. The answer states the
    budget, what was spent (with what is running) and who can raise it."""

    status_code = 402
    default_code = "budget_exhausted"

    def __init__(self, stop: BudgetStop, capability: Capability) -> None:
        super().__init__(budget_refusal(stop, capability.title))
        # Added to the answer beside `detail` and `code` (portal.api.errors).
        self.extra = {
            "budget": {
                "id": stop.budget_id,
                "capability": stop.capability,
                "amount": str(stop.amount),
                "currency": stop.currency,
                "platform_cap": stop.platform,
            },
            "spent": str(stop.spent.quantize(Decimal("0.01"))),
            "raised_by": "platform finance" if stop.platform else "owners, admins and billing members",
        }


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
        stop = budget_stop(organization, key)
        if stop is not None:
            raise BudgetExhaustedError(stop, registry().get(key))
        api_calls.attribute(request, key)
        return True
