"""Ledger totals per organization, meter and window, for the usage push and
reconciliation: which hours got new usage events, the hourly rollup of given
windows, and an organization's daily totals up to a cutoff hour. Billing reads
the ledger through these functions, never through metering's models."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime

from django.db.models import Q, Sum
from django.db.models.functions import Trunc

from metering.models import UsageDailyRollup, UsageEvent, UsageRollup
from metering.moments import midnight

# (organization id, capability, meter, start of the UTC hour)
Window = tuple[int, str, str, datetime]


def windows_condition(windows: Iterable[Window], hour_field: str = "hour") -> Q:
    """A filter matching rows of exactly these windows, the hour in
    `hour_field` (the push outbox calls it `window_start`)."""
    condition = Q()
    for organization_id, capability, meter, hour in windows:
        condition |= Q(
            organization_id=organization_id, capability=capability, meter=meter, **{hour_field: hour}
        )
    return condition


def touched_windows(
    *, recorded_after: datetime, recorded_until: datetime, occurred_from: datetime, occurred_before: datetime
) -> set[Window]:
    """The windows of usage events recorded in (recorded_after, recorded_until]
    that happened in [occurred_from, occurred_before): what changed since the
    push last looked (one query, by the ledger's recorded_at)."""
    return set(
        UsageEvent.objects.filter(
            recorded_at__gt=recorded_after,
            recorded_at__lte=recorded_until,
            occurred_at__lt=occurred_before,
            occurred_at__gte=occurred_from,
        )
        .annotate(window=Trunc("occurred_at", "hour", tzinfo=UTC))
        .values_list("organization_id", "capability", "meter", "window")
        .distinct()
    )


def window_totals(windows: Iterable[Window]) -> dict[Window, int]:
    """The hourly rollup's total of each window that has usage (one query)."""
    return {
        (row["organization_id"], row["capability"], row["meter"], row["hour"]): int(row["quantity"])
        for row in UsageRollup.objects.filter(windows_condition(windows)).values(
            "organization_id", "capability", "meter", "hour", "quantity"
        )
    }


def daily_totals(organization_id: int, start: datetime, cutoff: datetime) -> dict[tuple[str, str, date], int]:
    """The organization's total per capability, meter and day from `start`'s
    day up to the `cutoff` hour: whole days from the daily rollup, the hours of
    the cutoff's own day from the hourly one (at most two queries)."""
    totals: dict[tuple[str, str, date], int] = defaultdict(int)
    whole_days_end = midnight(cutoff.date())
    for row in (
        UsageDailyRollup.objects.filter(
            organization_id=organization_id, day__gte=start.date(), day__lt=whole_days_end.date()
        )
        .values("capability", "meter", "day")
        .annotate(total=Sum("quantity"))
        .order_by()
    ):
        totals[(row["capability"], row["meter"], row["day"])] += int(row["total"])
    if cutoff > whole_days_end:  # the settled hours of the cutoff's day
        for hourly in (
            UsageRollup.objects.filter(
                organization_id=organization_id, hour__gte=whole_days_end, hour__lt=cutoff
            )
            .values("capability", "meter")
            .annotate(total=Sum("quantity"))
            .order_by()
        ):
            totals[(hourly["capability"], hourly["meter"], whole_days_end.date())] += int(hourly["total"])
    return totals
