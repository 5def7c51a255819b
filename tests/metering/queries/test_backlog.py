"""Usage the ledger holds beyond another room's count of it, by day and hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metering.models import UsageRollup
from metering.queries import backlog
from tests.metering.usage_data import record

pytestmark = pytest.mark.django_db


def hours_of(organization, *hours: datetime):
    """A count of `organization`'s usage: exactly what the ledger holds for `hours`."""
    return UsageRollup.objects.filter(organization=organization, hour__in=hours).values_list(
        "organization_id", "capability", "meter", "hour", "quantity"
    )


def test_usage_beyond_a_count_by_day_and_hour(acme, globex):
    pages = {("ocr", "pages")}
    first, second, third = (datetime(2026, 11, day, 9, tzinfo=UTC) for day in (7, 8, 9))
    for hour in (first, second, third):
        record(acme, 10, at=hour + timedelta(minutes=5))
        record(acme, 4, at=hour + timedelta(hours=2))
    record(globex, 6, at=second)
    record(acme, 50, at=second, meter="compute_seconds")  # not one of `meters`
    start, end = datetime(2026, 11, 7, 10, tzinfo=UTC), datetime(2026, 11, 9, 10, tzinfo=UTC)

    # Nothing counted: from 10:00 on the 7th (a partial first day, from the hourly
    # rollups) through the whole 8th (the daily one) to 10:00 on the 9th.
    beyond = backlog.usage_beyond(hours_of(acme), meters=pages, start=start, end=end)
    assert (beyond.days, beyond.quantity, beyond.hours, beyond.organizations) == (4, 4 + 14 + 6 + 10, 5, 2)
    assert beyond.oldest_hour == first + timedelta(hours=2)

    # Acme's hours of the 8th counted: globex's is still beyond. A count of an
    # hour outside the range changes nothing (the 7th's 09:00 would cover its 11:00).
    counted = hours_of(acme, second, second + timedelta(hours=2), first, third + timedelta(hours=2))
    beyond = backlog.usage_beyond(counted, meters=pages, start=start, end=end)
    assert (beyond.days, beyond.quantity, beyond.hours, beyond.organizations) == (3, 4 + 6 + 10, 3, 2)

    # A range within one day reads only its hours.
    same_day = backlog.usage_beyond(
        hours_of(acme), meters=pages, start=second, end=second + timedelta(hours=1)
    )
    assert (same_day.days, same_day.quantity, same_day.hours, same_day.oldest_hour) == (2, 16, 2, second)
    assert backlog.usage_beyond(hours_of(acme), meters=set(), start=start, end=end).days == 0
