"""Billing periods and the ranges of the usage pages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from metering import periods
from tests.metering.usage_data import NOW

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (
            datetime(2026, 11, 10, 12, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
        ),
        (
            datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            datetime(2026, 2, 1, tzinfo=UTC),
            datetime(2026, 2, 1, tzinfo=UTC),
            datetime(2026, 3, 1, tzinfo=UTC),
        ),
    ],
)
def test_the_billing_period_is_the_calendar_month_in_utc(at, start, end):
    assert periods.billing_period(at) == periods.Period(start, end)


def test_a_time_in_another_zone_belongs_to_its_utc_month():
    from zoneinfo import ZoneInfo

    # 1 December 00:30 in Berlin is 30 November 23:30 in UTC.
    at = datetime(2026, 12, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert periods.billing_period(at).start == datetime(2026, 11, 1, tzinfo=UTC)


def test_ranges():
    day = periods.period_for("day", NOW)
    assert day == periods.Period(
        datetime(2026, 11, 9, 13, tzinfo=UTC), datetime(2026, 11, 10, 13, tzinfo=UTC)
    )
    assert day.bucket == periods.HOUR and len(day.buckets()) == 24

    week = periods.period_for("week", NOW)
    assert week == periods.Period(datetime(2026, 11, 4, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))
    assert len(week.buckets()) == 7

    month = periods.period_for("month", NOW)
    assert month == periods.billing_period(NOW) and len(month.buckets()) == 30

    custom = periods.period_for("custom", NOW, first=date(2026, 10, 30), last=date(2026, 11, 2))
    assert custom == periods.Period(datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    assert custom.last_day == date(2026, 11, 2)
    assert custom.label == "30 Oct 2026 \N{EN DASH} 2 Nov 2026"
