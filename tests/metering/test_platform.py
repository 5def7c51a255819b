"""Platform-wide daily usage: built from the daily rollups for closed days, and
the finance trend is the same answer whether a day is built or still live."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from metering import periods, platform
from metering.models import PlatformDailyUsage, PlatformUsageDay
from metering.queries import finance
from tests.metering.usage_data import record

pytestmark = pytest.mark.django_db


def _trend(period) -> dict:
    dashboard = finance.finance_dashboard(lambda model: model._default_manager.all(), period)
    return dict(dashboard.trend.costs)


def test_built_days_answer_like_live_ones(acme, globex):
    today = timezone.now().astimezone(UTC).date()
    for organization, quantity in ((acme, 3), (globex, 5)):
        record(
            organization, quantity, at=datetime.combine(today - timedelta(days=2), datetime.min.time(), UTC)
        )
        record(organization, quantity * 10, at=timezone.now())
    period = periods.days_period(today - timedelta(days=6), today)
    live = _trend(period)

    written = platform.refresh_days(today - timedelta(days=n) for n in range(7))

    assert written == 1  # one closed day with usage: ocr.pages two days ago
    assert PlatformUsageDay.objects.filter(day=today).count() == 0  # today stays live
    assert PlatformDailyUsage.objects.get().quantity == 8
    assert _trend(period) == live


def test_a_late_correction_rebuilds_its_day(acme, fiona):
    from metering.actions import record_correction

    yesterday = timezone.now().astimezone(UTC).date() - timedelta(days=1)
    at = datetime.combine(yesterday, datetime.min.time(), UTC) + timedelta(hours=9)
    record(acme, 4, at=at)
    platform.refresh_days([yesterday])
    record_correction(
        fiona, acme, capability="ocr", meter="pages", quantity=-1, reason="double scan", occurred_at=at
    )
    platform.refresh_days([yesterday])  # what the correction's on-commit hook does
    assert PlatformDailyUsage.objects.get(day=yesterday).quantity == 3


def test_the_refresh_window_is_this_month_and_the_last():
    days = platform.closed_days_to_refresh(date(2026, 3, 15))
    assert (days[0], days[-1], len(days)) == (date(2026, 2, 1), date(2026, 3, 14), 28 + 14)
