"""Read models of usage anomalies: an organization's recent spikes (usage page
and API), every organization's (finance), and the capabilities held now.
One query per list, whatever the number of rows; names come from the meter
prices, never a capability import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from metering import anomalies, formatting, meter_prices
from metering.anomalies import describe
from metering.models import AnomalyHold, UsageAnomaly
from portal.models import Organization

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class AnomalyRow:
    """One anomaly, with the names people read."""

    id: int
    organization_id: int
    organization_slug: str
    organization_name: str
    capability: str
    capability_title: str
    meter: str
    unit: str
    units: str  # the unit's plural, the meter's name for people
    day: date
    quantity: int
    baseline_median: Decimal
    baseline_mad: Decimal
    usual_day: Decimal  # what the ratio is taken against (the median, or the median day with usage)
    robust_z: float | None
    ratio: float | None
    detected_at: datetime
    summary: str  # "Documents pages on 3 Dec: 4,210, about 9 times the usual 460 a day"


def _rows(anomalies: list[UsageAnomaly]) -> list[AnomalyRow]:
    rows = []
    for anomaly in anomalies:
        info = meter_prices.describe(anomaly.capability, anomaly.meter)
        rows.append(
            AnomalyRow(
                id=anomaly.pk,
                organization_id=anomaly.organization_id,
                organization_slug=anomaly.organization.slug,
                organization_name=anomaly.organization.name,
                capability=anomaly.capability,
                capability_title=info.capability_title,
                meter=anomaly.meter,
                unit=info.unit,
                units=formatting.plural(info.unit),
                day=anomaly.day,
                quantity=anomaly.quantity,
                baseline_median=anomaly.baseline_median,
                baseline_mad=anomaly.baseline_mad,
                usual_day=anomaly.usual_day,
                robust_z=anomaly.robust_z,
                ratio=anomaly.ratio,
                detected_at=anomaly.detected_at,
                summary=describe(anomaly),
            )
        )
    return rows


def organization_anomalies(
    organization: Organization,
    *,
    since: date | None = None,
    until: date | None = None,
    capability: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[AnomalyRow]:
    """The organization's anomalies, newest day first."""
    anomalies = UsageAnomaly.objects.filter(organization=organization).select_related("organization")
    if since:
        anomalies = anomalies.filter(day__gte=since)
    if until:
        anomalies = anomalies.filter(day__lte=until)
    if capability:
        anomalies = anomalies.filter(capability=capability)
    return _rows(list(anomalies.order_by("-day", "capability", "meter")[:limit]))


def platform_anomalies(*, since: date | None = None, limit: int = DEFAULT_LIMIT) -> list[AnomalyRow]:
    """Every organization's anomalies, newest day first (finance)."""
    anomalies = UsageAnomaly.objects.select_related("organization")
    if since:
        anomalies = anomalies.filter(day__gte=since)
    return _rows(list(anomalies.order_by("-day", "organization__name", "capability", "meter")[:limit]))


@dataclass(frozen=True)
class HeldCapability:
    capability: str
    capability_title: str
    held_since: datetime
    reason: str  # the anomaly that held it, in words


def held_capabilities(organization: Organization) -> list[HeldCapability]:
    """The organization's capabilities held by a spike now."""
    holds = AnomalyHold.objects.filter(organization=organization, held_since__isnull=False).select_related(
        "anomaly"
    )
    held = []
    for hold in holds.order_by("capability"):
        assert hold.held_since is not None
        held.append(
            HeldCapability(
                capability=hold.capability,
                capability_title=meter_prices.capability_title(hold.capability),
                held_since=hold.held_since,
                reason=describe(hold.anomaly) if hold.anomaly else "",
            )
        )
    return held


def hold_choices(organization: Organization) -> dict[str, bool]:
    """Capability key -> whether the organization holds it on a spike."""
    return dict(
        AnomalyHold.objects.filter(organization=organization).values_list("capability", "hold_on_anomaly")
    )


def rule() -> dict[str, object]:
    """The detection rule's thresholds, for the pages that explain it."""
    return {
        "window": anomalies.WINDOW_DAYS,
        "ratio": anomalies.RATIO,
        "z": anomalies.Z_THRESHOLD,
        "floor": anomalies.MIN_QUANTITY,
    }
