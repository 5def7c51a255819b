"""An organization's usage read models: exact costs, the projection, usage
over time and the usage API's report, grouped in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from metering import meter_prices, periods
from metering.queries import usage
from tests.metering.usage_data import NOW, record

pytestmark = pytest.mark.django_db


# --- exact costs -----------------------------------------------------------------------


def test_usage_is_priced_per_meter_exactly(acme):
    record(acme, 123)  # ocr.pages at $0.010
    record(acme, 7, capability="summaries", meter="summaries")  # $0.05
    record(acme, 3, capability="summaries", meter="summaries", at=NOW - timedelta(hours=5))
    record(acme, 40, meter="compute_seconds")  # free in the test meter prices

    lines = usage.usage_by_meter(usage.organization_rollups(acme), periods.billing_period(NOW))

    by_key = {(line.capability, line.meter): line for line in lines}
    assert by_key["ocr", "pages"].cost == Decimal("1.230")
    assert by_key["ocr", "pages"].unit == "page"
    assert by_key["summaries", "summaries"].quantity == 10
    assert by_key["summaries", "summaries"].cost == Decimal("0.50")
    assert by_key["summaries", "summaries"].events == 2
    assert by_key["ocr", "compute_seconds"].cost == 0
    assert usage.totals_by_currency(lines) == {"usd": Decimal("1.730")}


def test_usage_of_a_meter_no_longer_in_the_catalog_is_shown_unpriced(acme):
    record(acme, 5, capability="retired", meter="widgets")

    [line] = usage.usage_by_meter(usage.organization_rollups(acme), periods.billing_period(NOW))

    assert (line.capability_title, line.unit, line.cost) == ("retired", "widgets", Decimal(0))


def test_corrections_count_with_their_sign(acme):
    record(acme, 100)
    record(acme, -30, kind="correction", reason="duplicate upload")

    [line] = usage.usage_by_meter(usage.organization_rollups(acme), periods.billing_period(NOW))

    assert (line.quantity, line.cost) == (70, Decimal("0.700"))


def test_only_the_period_and_the_organization_count(acme, globex):
    record(acme, 10)
    record(acme, 1000, at=datetime(2026, 10, 31, 23, 59, tzinfo=UTC))  # October
    record(acme, 1000, at=datetime(2026, 12, 1, tzinfo=UTC))  # December
    record(globex, 500)

    [line] = usage.usage_by_meter(usage.organization_rollups(acme), periods.billing_period(NOW))

    assert line.quantity == 10


# --- the projection ---------------------------------------------------------------------


def test_the_projection_scales_the_cost_so_far_by_the_elapsed_share_of_the_period(acme):
    record(acme, 300, at=datetime(2026, 11, 2, tzinfo=UTC))  # $3.00
    now = datetime(2026, 11, 10, tzinfo=UTC)  # 9 of 30 days elapsed

    projection = usage.projection(usage.organization_rollups(acme), now)

    assert projection.cost_so_far == {"usd": Decimal("3.000")}
    assert projection.elapsed_fraction == Decimal(9) / Decimal(30)
    assert projection.projected["usd"].quantize(Decimal("0.000001")) == Decimal("10.000000")
    assert projection.elapsed_days == 9
    assert projection.period_days == 30


def test_at_the_first_instant_of_a_period_the_projection_is_the_cost_so_far(acme):
    record(acme, 5, at=datetime(2026, 11, 1, tzinfo=UTC))
    projection = usage.projection(usage.organization_rollups(acme), datetime(2026, 11, 1, tzinfo=UTC))

    assert projection.projected == projection.cost_so_far == {"usd": Decimal("0.050")}


# --- over time ----------------------------------------------------------------------------


def test_usage_over_time_is_costed_per_day_and_capability(acme):
    record(acme, 100, at=datetime(2026, 11, 3, 8, tzinfo=UTC))
    record(acme, 50, at=datetime(2026, 11, 3, 17, tzinfo=UTC))
    record(acme, 2, capability="summaries", meter="summaries", at=datetime(2026, 11, 3, 9, tzinfo=UTC))
    record(acme, 10, at=datetime(2026, 11, 5, 1, tzinfo=UTC))

    trend = usage.usage_over_time(usage.organization_rollups(acme), periods.billing_period(NOW))

    nov3 = datetime(2026, 11, 3, tzinfo=UTC)
    assert trend.cost_at(nov3, "ocr") == Decimal("1.500")
    assert trend.cost_at(nov3, "summaries") == Decimal("0.10")
    assert trend.total_at(nov3) == Decimal("1.600")
    assert trend.cost_at(datetime(2026, 11, 5, tzinfo=UTC), "ocr") == Decimal("0.100")
    assert trend.series == {"summaries": "Summaries", "ocr": "Text recognition"}


def test_the_last_24_hours_are_charted_by_hour(acme):
    record(acme, 7, at=NOW - timedelta(minutes=30))
    period = periods.period_for("day", NOW)

    trend = usage.usage_over_time(usage.organization_rollups(acme), period)

    assert trend.cost_at(datetime(2026, 11, 10, 11, tzinfo=UTC), "ocr") == Decimal("0.070")


# --- the usage API's report ---------------------------------------------------------------


def test_report_groups_by_day_and_prices_each_meter_first(acme):
    record(acme, 100, at=datetime(2026, 11, 3, 8, tzinfo=UTC))
    record(acme, 3, capability="summaries", meter="summaries", at=datetime(2026, 11, 3, 9, tzinfo=UTC))
    record(acme, 10, at=datetime(2026, 11, 4, 1, tzinfo=UTC))

    rows = usage.usage_report(usage.organization_rollups(acme), periods.billing_period(NOW), ["day"])

    assert [row.as_dict() for row in rows] == [
        {"day": date(2026, 11, 3), "quantity": 103, "cost": Decimal("1.150"), "currency": "usd"},
        {"day": date(2026, 11, 4), "quantity": 10, "cost": Decimal("0.100"), "currency": "usd"},
    ]


def test_report_keeps_currencies_apart(acme):
    class TwoCurrencies:
        def meters(self):
            return [
                meter_prices.MeterInfo("ocr", "Text recognition", "pages", "page", Decimal("0.01"), "usd"),
                meter_prices.MeterInfo(
                    "summaries", "Summaries", "summaries", "summary", Decimal("0.04"), "eur"
                ),
            ]

    previous = meter_prices._source
    meter_prices.register(TwoCurrencies())
    try:
        record(acme, 100)
        record(acme, 10, capability="summaries", meter="summaries")
        rows = usage.usage_report(usage.organization_rollups(acme), periods.billing_period(NOW), [])
    finally:
        meter_prices.register(previous)

    assert [(row.cost, row.currency) for row in rows] == [
        (Decimal("0.40"), "eur"),
        (Decimal("1.00"), "usd"),
    ]
    assert usage.totals_of_report(rows) == {"eur": Decimal("0.40"), "usd": Decimal("1.00")}
