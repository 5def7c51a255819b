"""The usage chart's geometry: scale, grid labels and stacked bars."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from metering import charts, periods
from metering.queries import usage
from tests.metering.usage_data import NOW, record

pytestmark = pytest.mark.django_db


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
    trend = usage.usage_over_time(usage.organization_rollups(acme), periods.billing_period(NOW))

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
