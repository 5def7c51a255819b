"""Billing periods and the ranges the usage pages offer: half-open UTC
intervals aligned to hours; a billing period is a calendar month starting
00:00 UTC on the 1st."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from metering.moments import hour_of, midnight

DASH = " \N{EN DASH} "
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) of UTC time."""

    start: datetime
    end: datetime

    @property
    def last_day(self) -> date:
        """The last day the period touches (its end is exclusive)."""
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def bucket(self) -> timedelta:
        """The bar width of a chart over this period: hours up to two days, else days."""
        return HOUR if self.end - self.start <= 2 * DAY else DAY

    def buckets(self) -> list[datetime]:
        step = self.bucket
        first = self.start if step == HOUR else midnight(self.start.date())
        found = []
        moment = first
        while moment < self.end:
            found.append(moment)
            moment += step
        return found

    @property
    def label(self) -> str:
        """Its days, e.g. "1 Nov 2026 to 30 Nov 2026" (with an en dash), and its
        hours when it does not start at midnight."""
        if self.start.time() == time.min and self.end.time() == time.min:
            first, last = _day_text(self.start.date()), _day_text(self.last_day)
            return first if first == last else f"{first}{DASH}{last}"
        start = f"{_day_text(self.start.date())} {self.start:%H:%M}"
        return f"{start}{DASH}{_day_text(self.end.date())} {self.end:%H:%M} UTC"


def _day_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def billing_period(at: datetime) -> Period:
    """The calendar month (UTC) that contains `at`."""
    moment = at.astimezone(UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


def days_period(first: date, last: date) -> Period:
    """Whole UTC days from `first` to `last`, both included."""
    return Period(midnight(first), midnight(last) + DAY)


RANGES = {"day": "Last 24 hours", "week": "Last 7 days", "month": "This month", "custom": "Custom"}


def period_for(
    range_key: str, now: datetime, *, first: date | None = None, last: date | None = None
) -> Period:
    """The period a range selector means at `now`: the last 24 hours (whole
    hours, the current one included), the last 7 days (today included), the
    current billing period, or custom days."""
    if range_key == "day":
        end = hour_of(now) + HOUR
        return Period(end - DAY, end)
    if range_key == "week":
        today = now.astimezone(UTC).date()
        return days_period(today - timedelta(days=6), today)
    if range_key == "custom":
        if first is None or last is None:
            raise ValueError("A custom range needs its first and last day")
        return days_period(first, last)
    return billing_period(now)
