"""Which rollup answers a period: the hourly, daily or monthly rows, narrowed
to what the caller may see, read at the coarsest grain that is still exact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.db.models import QuerySet

from metering.models import UsageDailyRollup, UsageMonthlyRollup, UsageRollup
from metering.periods import Period


@dataclass(frozen=True)
class Source:
    """Rollup rows at one grain: hourly (`hour`), daily (`day`) or monthly
    (`month`), already narrowed to the caller's scope."""

    queryset: QuerySet[Any]
    column: str

    def in_period(self, period: Period) -> QuerySet[Any]:
        if self.column == "hour":
            return self.queryset.filter(hour__gte=period.start, hour__lt=period.end)
        first, last = period.start.astimezone(UTC).date(), period.end.astimezone(UTC).date()
        return self.queryset.filter(**{f"{self.column}__gte": first, f"{self.column}__lt": last})


# A scope narrows any rollup model to what the caller may see and filtered for
# (they share organization, capability and meter fields).
Scope = Callable[[type[models.Model]], QuerySet[Any]]


def aligned(moment: datetime, unit: str) -> bool:
    """Whether `moment` starts a UTC day (`unit` "day") or a calendar month ("month")."""
    moment = moment.astimezone(UTC)
    if moment.hour or moment.minute or moment.second or moment.microsecond:
        return False
    return unit == "day" or moment.day == 1


def best_source(scope: Scope, period: Period, *, by_day: bool = False) -> Source:
    """The coarsest rollup that answers `period` exactly: monthly for whole
    calendar months (billing periods), daily for whole days, else hourly.
    `by_day` asks for rows no coarser than a day (for a chart by day)."""
    if not by_day and aligned(period.start, "month") and aligned(period.end, "month"):
        return Source(scope(UsageMonthlyRollup), "month")
    if aligned(period.start, "day") and aligned(period.end, "day"):
        return Source(scope(UsageDailyRollup), "day")
    return Source(scope(UsageRollup), "hour")


def source_of(rollups: QuerySet[UsageRollup] | Source) -> Source:
    """`rollups` as a source: a bare queryset is hourly rows."""
    return rollups if isinstance(rollups, Source) else Source(rollups, "hour")


def in_period(rollups: QuerySet[UsageRollup] | Source, period: Period) -> QuerySet[Any]:
    """The rows of `rollups` inside `period`."""
    return source_of(rollups).in_period(period)
