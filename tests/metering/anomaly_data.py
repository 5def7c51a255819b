"""Usage with a planted spike, for the tests of pages, API and holds that
need an anomaly: 40 steady days in the daily rollups, then a spike day."""

from __future__ import annotations

from datetime import UTC, date, timedelta

from django.utils import timezone

from metering import anomalies
from metering.models import UsageAnomaly, UsageDailyRollup
from portal.models import Organization


def yesterday() -> date:
    return timezone.now().astimezone(UTC).date() - timedelta(days=1)


def plant_spike(
    organization: Organization,
    *,
    capability: str = "ocr",
    meter: str = "pages",
    day: date | None = None,
    usual: int = 460,
    figure: int = 4210,
    detect: bool = True,
) -> list[UsageAnomaly]:
    """Steady usage for 40 days before `day` (default yesterday), `figure` on
    `day`; with `detect`, run detection on `day` and return what it recorded."""
    day = day or yesterday()
    figures = {day - timedelta(days=n): usual for n in range(1, 41)}
    figures[day] = figure
    UsageDailyRollup.objects.bulk_create(
        UsageDailyRollup(
            organization=organization,
            capability=capability,
            meter=meter,
            day=when,
            quantity=quantity,
            events=1,
        )
        for when, quantity in figures.items()
    )
    return anomalies.detect([day]) if detect else []
