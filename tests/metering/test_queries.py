"""Read models of the usage pages: billing periods, ranges, exact costs, the
projection, grouping in the database, and the chart's geometry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metering import charts, formatting, meter_prices, queries
from metering.models import UsageRollup
from tests.factories import OrganizationFactory
from tests.metering.usage_data import NOW, record

pytestmark = pytest.mark.django_db


# --- periods -------------------------------------------------------------------------


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
    assert queries.billing_period(at) == queries.Period(start, end)


def test_a_time_in_another_zone_belongs_to_its_utc_month():
    from zoneinfo import ZoneInfo

    # 1 December 00:30 in Berlin is 30 November 23:30 in UTC.
    at = datetime(2026, 12, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert queries.billing_period(at).start == datetime(2026, 11, 1, tzinfo=UTC)


def test_ranges():
    day = queries.period_for("day", NOW)
    assert day == queries.Period(
        datetime(2026, 11, 9, 13, tzinfo=UTC), datetime(2026, 11, 10, 13, tzinfo=UTC)
    )
    assert day.bucket == queries.HOUR and len(day.buckets()) == 24

    week = queries.period_for("week", NOW)
    assert week == queries.Period(datetime(2026, 11, 4, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))
    assert len(week.buckets()) == 7

    month = queries.period_for("month", NOW)
    assert month == queries.billing_period(NOW) and len(month.buckets()) == 30

    custom = queries.period_for("custom", NOW, first=date(2026, 10, 30), last=date(2026, 11, 2))
    assert custom == queries.Period(datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    assert custom.last_day == date(2026, 11, 2)
    assert custom.label == "30 Oct 2026 \N{EN DASH} 2 Nov 2026"


# --- exact costs -----------------------------------------------------------------------


def test_usage_is_priced_per_meter_exactly(acme):
    record(acme, 123)  # ocr.pages at $0.010
    record(acme, 7, capability="summaries", meter="summaries")  # $0.05
    record(acme, 3, capability="summaries", meter="summaries", at=NOW - timedelta(hours=5))
    record(acme, 40, meter="compute_seconds")  # free in the test meter prices

    lines = queries.usage_by_meter(queries.organization_rollups(acme), queries.billing_period(NOW))

    by_key = {(line.capability, line.meter): line for line in lines}
    assert by_key["ocr", "pages"].cost == Decimal("1.230")
    assert by_key["ocr", "pages"].unit == "page"
    assert by_key["summaries", "summaries"].quantity == 10
    assert by_key["summaries", "summaries"].cost == Decimal("0.50")
    assert by_key["summaries", "summaries"].events == 2
    assert by_key["ocr", "compute_seconds"].cost == 0
    assert queries.totals_by_currency(lines) == {"usd": Decimal("1.730")}


def test_usage_of_a_meter_no_longer_in_the_catalog_is_shown_unpriced(acme):
    record(acme, 5, capability="retired", meter="widgets")

    [line] = queries.usage_by_meter(queries.organization_rollups(acme), queries.billing_period(NOW))

    assert (line.capability_title, line.unit, line.cost) == ("retired", "widgets", Decimal(0))


def test_corrections_count_with_their_sign(acme):
    record(acme, 100)
    record(acme, -30, kind="correction", reason="duplicate upload")

    [line] = queries.usage_by_meter(queries.organization_rollups(acme), queries.billing_period(NOW))

    assert (line.quantity, line.cost) == (70, Decimal("0.700"))


def test_only_the_period_and_the_organization_count(acme, globex):
    record(acme, 10)
    record(acme, 1000, at=datetime(2026, 10, 31, 23, 59, tzinfo=UTC))  # October
    record(acme, 1000, at=datetime(2026, 12, 1, tzinfo=UTC))  # December
    record(globex, 500)

    [line] = queries.usage_by_meter(queries.organization_rollups(acme), queries.billing_period(NOW))

    assert line.quantity == 10


# --- the projection ---------------------------------------------------------------------


def test_the_projection_scales_the_cost_so_far_by_the_elapsed_share_of_the_period(acme):
    record(acme, 300, at=datetime(2026, 11, 2, tzinfo=UTC))  # $3.00
    now = datetime(2026, 11, 10, tzinfo=UTC)  # 9 of 30 days elapsed

    projection = queries.projection(queries.organization_rollups(acme), now)

    assert projection.cost_so_far == {"usd": Decimal("3.000")}
    assert projection.elapsed_fraction == Decimal(9) / Decimal(30)
    assert projection.projected["usd"].quantize(Decimal("0.000001")) == Decimal("10.000000")
    assert projection.elapsed_days == 9
    assert projection.period_days == 30


def test_at_the_first_instant_of_a_period_the_projection_is_the_cost_so_far(acme):
    record(acme, 5, at=datetime(2026, 11, 1, tzinfo=UTC))
    projection = queries.projection(queries.organization_rollups(acme), datetime(2026, 11, 1, tzinfo=UTC))

    assert projection.projected == projection.cost_so_far == {"usd": Decimal("0.050")}


# --- over time ----------------------------------------------------------------------------


def test_usage_over_time_is_costed_per_day_and_capability(acme):
    record(acme, 100, at=datetime(2026, 11, 3, 8, tzinfo=UTC))
    record(acme, 50, at=datetime(2026, 11, 3, 17, tzinfo=UTC))
    record(acme, 2, capability="summaries", meter="summaries", at=datetime(2026, 11, 3, 9, tzinfo=UTC))
    record(acme, 10, at=datetime(2026, 11, 5, 1, tzinfo=UTC))

    trend = queries.usage_over_time(queries.organization_rollups(acme), queries.billing_period(NOW))

    nov3 = datetime(2026, 11, 3, tzinfo=UTC)
    assert trend.cost_at(nov3, "ocr") == Decimal("1.500")
    assert trend.cost_at(nov3, "summaries") == Decimal("0.10")
    assert trend.total_at(nov3) == Decimal("1.600")
    assert trend.cost_at(datetime(2026, 11, 5, tzinfo=UTC), "ocr") == Decimal("0.100")
    assert trend.series == {"summaries": "Summaries", "ocr": "Text recognition"}


def test_the_last_24_hours_are_charted_by_hour(acme):
    record(acme, 7, at=NOW - timedelta(minutes=30))
    period = queries.period_for("day", NOW)

    trend = queries.usage_over_time(queries.organization_rollups(acme), period)

    assert trend.cost_at(datetime(2026, 11, 10, 11, tzinfo=UTC), "ocr") == Decimal("0.070")


# --- the usage API's report ---------------------------------------------------------------


def test_report_groups_by_day_and_prices_each_meter_first(acme):
    record(acme, 100, at=datetime(2026, 11, 3, 8, tzinfo=UTC))
    record(acme, 3, capability="summaries", meter="summaries", at=datetime(2026, 11, 3, 9, tzinfo=UTC))
    record(acme, 10, at=datetime(2026, 11, 4, 1, tzinfo=UTC))

    rows = queries.usage_report(queries.organization_rollups(acme), queries.billing_period(NOW), ["day"])

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
        rows = queries.usage_report(queries.organization_rollups(acme), queries.billing_period(NOW), [])
    finally:
        meter_prices.register(previous)

    assert [(row.cost, row.currency) for row in rows] == [
        (Decimal("0.40"), "eur"),
        (Decimal("1.00"), "usd"),
    ]
    assert queries.totals_of_report(rows) == {"eur": Decimal("0.40"), "usd": Decimal("1.00")}


# --- finance ----------------------------------------------------------------------------------


def test_usage_by_organization_and_the_top_organizations(acme, globex):
    initech = OrganizationFactory(name="Initech", slug="initech")
    record(acme, 100)  # $1.00
    record(globex, 2, capability="summaries", meter="summaries")  # $0.10
    record(globex, 500)  # $5.00
    record(initech, 5, meter="compute_seconds")  # free

    lines = queries.usage_by_organization(UsageRollup.objects.all(), queries.billing_period(NOW))
    top = queries.top_organizations(lines)

    assert [(item.organization_slug, item.line.meter, item.revenue) for item in lines][:2] == [
        ("globex", "pages", Decimal("5.000")),
        ("acme", "pages", Decimal("1.000")),
    ]
    assert [(org.slug, org.revenue) for org in top] == [
        ("globex", {"usd": Decimal("5.10")}),
        ("acme", {"usd": Decimal("1.000")}),
    ]


def test_finance_queries_do_not_grow_with_the_rows(acme, globex, monkeypatch):
    monkeypatch.setattr("billing.price_book.CACHE_SECONDS", 3600)  # however slow this machine is
    period = queries.billing_period(NOW)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            lines = queries.usage_by_organization(UsageRollup.objects.all(), period)
            queries.usage_by_meter(UsageRollup.objects.all(), period)
            queries.usage_over_time(UsageRollup.objects.all(), period)
            queries.top_organizations(lines)
        return len(captured)

    record(acme, 1)
    meter_prices.meters()  # the prices: read once, then cached for a few seconds per process
    few = count()
    for n in range(30):
        organization = OrganizationFactory(slug=f"tenant-{n}")
        record(organization, n + 1, at=NOW - timedelta(days=n % 9, hours=n))
        record(organization, 1, capability="summaries", meter="summaries")

    assert count() == few == 4


def test_search_organizations(acme, globex):
    record(acme, 1)
    record(globex, 2)
    rollups = queries.search_organizations(UsageRollup.objects.all(), "GLOB")
    assert {row.organization_id for row in rollups} == {globex.pk}


# --- formatting and the chart -----------------------------------------------------------------


def test_money_is_shown_to_the_cent_half_up():
    assert formatting.money(Decimal("1.005")) == "$1.01"
    assert formatting.money(Decimal("1234.5")) == "$1,234.50"
    assert formatting.money(Decimal("-0.25"), "eur") == "-€0.25"
    assert formatting.money(Decimal("-0.001")) == "$0.00"
    assert formatting.money(Decimal("3"), "chf") == "3.00 CHF"
    assert formatting.money_totals({"eur": Decimal("1"), "usd": Decimal("2")}) == "€1.00 + $2.00"
    assert formatting.unit_price(Decimal("0.010")) == "$0.01"
    assert formatting.unit_price(Decimal("0.0025")) == "$0.0025"
    assert formatting.exact(Decimal("1.230")) == "1.230"
    assert formatting.exact(Decimal("1E+1")) == "10"


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        ("0", "1"),
        ("0.7", "0.8"),
        ("1.2", "2"),
        ("2.1", "4"),
        ("5", "6"),
        ("7.01", "8"),
        ("8.5", "10"),
        ("0.031", "0.04"),
    ],
)
def test_nice_ceiling(value, ceiling):
    assert charts.nice_ceiling(Decimal(value)) == Decimal(ceiling)


def test_grid_labels_show_cents_or_the_decimals_they_need():
    assert charts._tick_label(Decimal("1.50"), "usd") == "$1.50"
    assert charts._tick_label(Decimal("0.025"), "usd") == "$0.025"
    assert charts._tick_label(Decimal("1500"), "usd") == "$1,500.00"


def test_the_chart_stacks_capabilities_per_day(acme):
    record(acme, 100, at=datetime(2026, 11, 3, 8, tzinfo=UTC))  # $1.00
    record(
        acme, 20, capability="summaries", meter="summaries", at=datetime(2026, 11, 3, 9, tzinfo=UTC)
    )  # $1.00
    trend = queries.usage_over_time(queries.organization_rollups(acme), queries.billing_period(NOW))

    chart = charts.stacked_bar_chart(trend)

    assert len(chart.bars) == 2
    lower, upper = sorted(chart.bars, key=lambda bar: -bar.y)
    assert lower.x == upper.x
    assert lower.y + lower.height == pytest.approx(chart.baseline)
    assert upper.y + upper.height == pytest.approx(lower.y)
    # $2.00 total under a $2.00 ceiling: the stack reaches the top of the plot.
    assert upper.y == pytest.approx(charts.TOP)
    assert {bar.css_class for bar in chart.bars} == {"chart-s0", "chart-s1"}
    assert upper.title.startswith("Nov 3 · ")
    assert [tick.label for tick in chart.ticks] == ["$0.00", "$0.50", "$1.00", "$1.50", "$2.00"]


# --- usage beyond another room's count ---------------------------------------------------


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
    beyond = queries.usage_beyond(hours_of(acme), meters=pages, start=start, end=end)
    assert (beyond.days, beyond.quantity, beyond.hours, beyond.organizations) == (4, 4 + 14 + 6 + 10, 5, 2)
    assert beyond.oldest_hour == first + timedelta(hours=2)

    # Acme's hours of the 8th counted: globex's is still beyond. A count of an
    # hour outside the range changes nothing (the 7th's 09:00 would cover its 11:00).
    counted = hours_of(acme, second, second + timedelta(hours=2), first, third + timedelta(hours=2))
    beyond = queries.usage_beyond(counted, meters=pages, start=start, end=end)
    assert (beyond.days, beyond.quantity, beyond.hours, beyond.organizations) == (3, 4 + 6 + 10, 3, 2)

    # A range within one day reads only its hours.
    same_day = queries.usage_beyond(
        hours_of(acme), meters=pages, start=second, end=second + timedelta(hours=1)
    )
    assert (same_day.days, same_day.quantity, same_day.hours, same_day.oldest_hour) == (2, 16, 2, second)
    assert queries.usage_beyond(hours_of(acme), meters=set(), start=start, end=end).days == 0
