"""State changes of metering: finance's corrections, budgets, and an
organization's choice to hold a capability on a usage spike."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from metering import anomalies, budgets, ledger, meter_prices, platform
from metering.budgets import DEFAULT_THRESHOLDS
from metering.models import Budget, EventKind, UsageEvent
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import MANAGING_ROLES, Membership, Organization, User


def record_correction(
    actor: User,
    organization: Organization,
    *,
    capability: str,
    meter: str,
    quantity: int,
    reason: str,
    occurred_at: datetime | None = None,
    origin: Origin | None = None,
) -> UsageEvent:
    """Add a correction (positive or negative) as a new, audited ledger event."""
    if not actor.is_finance:
        raise ActionError("Only platform finance can correct usage.", "finance_required")
    if quantity == 0:
        raise ActionError("A correction of zero changes nothing.", "zero_quantity")
    if not reason.strip():
        raise ActionError("Say why: corrections are audited.", "reason_required")
    if (capability, meter) not in meter_prices.lookup():
        raise ActionError(f"{capability}.{meter} is not a known meter.", "unknown_meter")
    key = f"correction:{uuid.uuid4()}"
    with transaction.atomic(durable=True):
        ledger.append(
            [
                ledger.UsageRecord(
                    organization_id=organization.pk,
                    capability=capability,
                    meter=meter,
                    quantity=quantity,
                    occurred_at=occurred_at or timezone.now(),
                    idempotency_key=key,
                    kind=EventKind.CORRECTION,
                    reason=reason.strip()[:300],
                    created_by_id=actor.pk,
                )
            ]
        )
        event = UsageEvent.objects.get(idempotency_key=key)
        transaction.on_commit(lambda: platform.refresh_days([event.occurred_at.astimezone(UTC).date()]))
        record_audit(
            actor,
            "usage.corrected",
            organization=organization,
            target=event,
            origin=origin,
            details={"capability": capability, "meter": meter, "quantity": quantity, "reason": reason},
        )
    return event


# --- budgets -----------------------------------------------------------------------

MAX_BUDGET = Decimal("10000000000")  # 10 billion: beyond any monthly spend, within the column
MAX_THRESHOLDS = 10


def _clean_budget(
    capability: str | None, amount: Decimal, action: str, thresholds: Iterable[int] | None
) -> tuple[Decimal, list[int]]:
    if capability is not None and capability not in budgets.covered_capabilities():
        raise ActionError(f"{capability!r} is not a capability of this portal.", "unknown_capability")
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ActionError("The amount must be a number, such as 50.00.", "invalid_amount")
    if amount < 0:
        raise ActionError("The amount cannot be negative.", "invalid_amount")
    if amount >= MAX_BUDGET or amount != amount.quantize(Decimal("0.01")):
        raise ActionError("The amount must be under 10 billion, with at most two decimals.", "invalid_amount")
    if action not in Budget.Action.values:
        raise ActionError("The action must be stop or alert.", "invalid_action")
    levels = sorted(set(DEFAULT_THRESHOLDS if thresholds is None else thresholds))
    if len(levels) > MAX_THRESHOLDS or any(
        not isinstance(level, int) or not 1 <= level <= 100 for level in levels
    ):
        raise ActionError(
            f"Thresholds are whole percents from 1 to 100, at most {MAX_THRESHOLDS} of them.",
            "invalid_thresholds",
        )
    return amount.quantize(Decimal("0.01")), levels


def save_budget(
    actor: User,
    organization: Organization,
    *,
    capability: str | None,
    amount: Decimal,
    action: str = Budget.Action.STOP,
    thresholds: Iterable[int] | None = None,
    platform: bool = False,
    reason: str = "",
    budget: Budget | None = None,
    origin: Origin | None = None,
) -> Budget:
    """Set a budget (a new one, or `budget` changed) of `organization`, audited.
    The caller checks the organization's roles (owners, admins and billing
    members); a platform cap is set by platform staff or finance only, with a
    reason, and the organization cannot change it. The counters are read from
    the rollups at once, so that a raised budget lifts its stop at once."""
    amount, levels = _clean_budget(capability, amount, action, thresholds)
    if budget is not None:
        if budget.organization_id != organization.pk:
            raise ActionError("That budget belongs to another organization.", "not_found")
        platform = budget.platform
    if platform:
        if not (actor.is_staff or actor.is_finance):
            raise ActionError(
                "A platform cap is set by the platform's finance team; your organization cannot change it.",
                "platform_cap_locked",
            )
        if not reason.strip():
            raise ActionError("Say why the cap is set: the organization sees the reason.", "reason_required")
    before = _budget_fields(budget) if budget is not None else None
    try:
        with transaction.atomic(durable=True):
            if budget is None:
                budget = Budget(organization=organization, created_by=actor, platform=platform)
            budget.capability = capability
            budget.amount = amount
            budget.currency = budget.currency if budget.pk else budgets.currency()
            budget.action = action
            budget.thresholds = levels
            budget.reason = reason.strip()[:300]
            budget.updated_at = timezone.now()
            budget.save()
            record_audit(
                actor,
                "budget.changed" if before else "budget.created",
                organization=organization,
                target=budget,
                origin=origin,
                details={"before": before, "after": _budget_fields(budget)},
            )
    except IntegrityError:
        scope = budgets.scope_name(capability)
        kind = "platform cap" if platform else "budget"
        raise ActionError(
            f"{organization.name} already has a {kind} for {scope}; change that one.", "budget_exists"
        ) from None
    budgets.recompute(budget.organization_id)
    budgets.announce(budget.organization_id)
    return budget


def delete_budget(actor: User, budget: Budget, *, origin: Origin | None = None) -> None:
    """Remove a budget (its stop lifts at once), audited. A platform cap is
    removed by platform staff or finance only."""
    if budget.platform and not (actor.is_staff or actor.is_finance):
        raise ActionError(
            "A platform cap is set by the platform's finance team; your organization cannot remove it.",
            "platform_cap_locked",
        )
    organization_id = budget.organization_id
    with transaction.atomic(durable=True):
        record_audit(
            actor,
            "budget.deleted",
            organization=budget.organization,
            target=budget,
            origin=origin,
            details={"before": _budget_fields(budget)},
        )
        budget.delete()
    budgets.announce(organization_id)


def _budget_fields(budget: Budget) -> dict[str, Any]:
    return {
        "capability": budget.capability,
        "amount": str(budget.amount),
        "currency": budget.currency,
        "action": budget.action,
        "thresholds": list(budget.thresholds),
        "platform": budget.platform,
        "reason": budget.reason,
    }


def set_hold_on_anomaly(
    actor: User,
    organization: Organization,
    capability: str,
    *,
    enabled: bool,
    origin: Origin | None = None,
) -> bool:
    """Choose whether a spike of `capability` holds its new jobs until an owner
    releases them (owners and admins). Audited; True when it changed."""
    if (
        not actor.is_staff
        and not Membership.objects.filter(
            user=actor, organization=organization, role__in=MANAGING_ROLES
        ).exists()
    ):
        raise ActionError(
            "Only owners and admins can choose to hold a capability on a spike.", "admin_required"
        )
    if capability not in {info.capability for info in meter_prices.meters()}:
        raise ActionError(f"“{capability}” is not a capability with usage.", "unknown_capability")
    with transaction.atomic(durable=True):
        changed = anomalies.set_hold_on_anomaly(organization, capability, enabled, actor.pk)
        if changed:
            record_audit(
                actor,
                "capability.hold_on_anomaly_changed",
                organization=organization,
                origin=origin,
                details={"capability": capability, "hold_on_anomaly": enabled},
            )
    return changed
