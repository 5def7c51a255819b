"""State changes of metering: finance's corrections, and an organization's
choice to hold a capability on a usage spike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from metering import anomalies, ledger, meter_prices, platform
from metering.models import EventKind, UsageEvent
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
