"""The approval rule: whether switching a capability on needs a second
person's decision in an organization. One home for it: the toggle action
asks it (capabilities.actions.set_capability_enabled), the pages and the API
show its answer.

- An IT admin's rule (`every_switch_on`) makes every switch-on a request.
- An organization's cost limit makes a switch-on a request when the paid
  capabilities it switches on (it and what it needs that is off) are
  estimated above the limit a month, together. A paid capability with no
  estimate yet counts as above: nobody can show it stays under.
- Free capabilities never need approval under the cost limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from capabilities.approvals.models import ApprovalPolicy, CapabilityRequest
from capabilities.registry import registry
from metering import budgets
from metering.formatting import money
from metering.queries import estimates as cost_estimates
from portal.models import Organization


@dataclass(frozen=True)
class ApprovalNeeded:
    """Why a switch-on waits for a second person, in words and as a code."""

    why: str  # CapabilityRequest.Why
    message: str
    estimate: Decimal | None = None  # the monthly estimate of what switches on, when known
    currency: str = ""


def policy_of(organization: Organization) -> ApprovalPolicy | None:
    return ApprovalPolicy.objects.filter(organization=organization).first()


def approval_needed(
    organization: Organization, key: str, switching_on: list[str], *, policy: ApprovalPolicy | None = None
) -> ApprovalNeeded | None:
    """Whether switching `key` on (with `switching_on`: the capabilities the
    switch turns on, `key` included) needs approval. One query when the
    organization has no policy; two more for the estimates under a cost limit."""
    policy = policy or policy_of(organization)
    if policy is None:
        return None
    title = registry().get(key).title
    if policy.every_switch_on:
        reason = f": “{policy.every_switch_on_reason}”" if policy.every_switch_on_reason else "."
        return ApprovalNeeded(
            CapabilityRequest.Why.TENANT_RULE,
            f"Switching on {title} needs another owner's or admin's approval: your platform "
            f"administrator requires approval for every switch-on in {organization.name}{reason}",
        )
    if policy.cost_limit is None:
        return None
    paid = [other for other in switching_on if registry().get(other).is_paid]
    if not paid:
        return None
    found = cost_estimates.estimates(organization, paid)
    limit = policy.cost_limit
    currency = budgets.currency()  # the limit's, as budgets'
    unknown = [other for other in paid if found[other].monthly is None or found[other].currency != currency]
    total = sum((found[other].monthly or Decimal(0) for other in paid), Decimal(0))
    if unknown:
        names = ", ".join(registry().get(other).title for other in unknown)
        return ApprovalNeeded(
            CapabilityRequest.Why.COST_LIMIT,
            f"Switching on {title} needs another owner's or admin's approval: there is no cost "
            f"estimate yet for {names}, so it can't be shown to stay under {organization.name}'s "
            f"approval limit of {money(limit, currency)} a month.",
            None,
            currency,
        )
    if total <= limit:
        return None
    return ApprovalNeeded(
        CapabilityRequest.Why.COST_LIMIT,
        f"Switching on {title} needs another owner's or admin's approval: it is estimated at about "
        f"{money(total, currency)} a month, above {organization.name}'s approval limit of "
        f"{money(limit, currency)}.",
        total,
        currency,
    )
