"""Platform-wide daily usage for the finance dashboard's trend: closed days are
summed once from the daily rollups (periodically, and again when a correction
lands on one); today stays live in the daily rollups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from metering.models import PlatformDailyUsage, PlatformUsageDay, UsageDailyRollup


def closed_days_to_refresh(today: date | None = None) -> list[date]:
    """The closed days late usage can still reach: this month and the last."""
    today = today or timezone.now().date()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return [first + timedelta(days=n) for n in range((today - first).days)]


def refresh_days(days: Iterable[date]) -> int:
    """Rebuild the platform rows of `days` (closed days only); returns rows written."""
    today = timezone.now().date()
    days = sorted({day for day in days if day < today})
    if not days:
        return 0
    now = timezone.now()
    with transaction.atomic():
        PlatformDailyUsage.objects.filter(day__in=days).delete()
        rows = (
            UsageDailyRollup.objects.filter(day__in=days)
            .values("capability", "meter", "day")
            .annotate(total=Sum("quantity"), count=Sum("events"))
            .order_by()
        )
        built = PlatformDailyUsage.objects.bulk_create(
            PlatformDailyUsage(
                capability=row["capability"],
                meter=row["meter"],
                day=row["day"],
                quantity=row["total"],
                events=row["count"],
            )
            for row in rows
        )
        PlatformUsageDay.objects.bulk_create(
            [PlatformUsageDay(day=day, refreshed_at=now) for day in days],
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=["refreshed_at"],
        )
    return len(built)
