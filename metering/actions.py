"""State changes of metering: finance's corrections."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from metering import ledger, meter_prices, platform
from metering.models import EventKind, UsageEvent
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import Organization, User


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
