"""The shared formatters every page uses for quantities and money (issue 13:
"1 units", "14089", bare amounts in sentences, clipped chart labels)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from metering import charts, formatting


@pytest.mark.parametrize(
    ("number", "unit", "expected"),
    [
        (1, "unit", "1 unit"),
        (0, "unit", "0 units"),
        (14089, "unit", "14,089 units"),
        (-1, "page", "-1 page"),
        (2, "search", "2 searches"),
        (3, "summary", "3 summaries"),
        (2, "API call", "2 API calls"),
        (1, "page match", "1 page match"),
        (2, "box", "2 boxes"),
        (5, "day", "5 days"),
    ],
)
def test_a_count_has_thousands_separators_and_the_right_plural(number, unit, expected):
    assert formatting.count(number, unit) == expected


def test_quantities_have_thousands_separators():
    assert formatting.quantity(14089) == "14,089"
    assert formatting.quantity(-1234567) == "-1,234,567"
    assert formatting.quantity(Decimal("1234.5")) == "1,234.5"


def test_unit_prices_keep_their_decimals_and_get_separators():
    assert formatting.unit_price(Decimal("0.0000005")) == "$0.0000005"
    assert formatting.unit_price(Decimal("1250")) == "$1,250.00"


def test_chart_tick_labels_fit_in_the_left_margin():
    """The revenue chart's "$80,000.00" was cut to "80,000.00": the margin is
    made for the longest tick label."""
    chart = charts.stacked_bars(
        ["2025-01", "2025-02"],
        {"North": "North"},
        lambda month, key: Decimal("76322.96") if month == "2025-01" else Decimal("1000"),
        bucket_label=str,
        value_label=lambda amount: formatting.money(amount),
        describe=lambda totals: "",
    )
    labels = [tick.label for tick in chart.ticks]
    assert "$80,000.00" in labels
    widest = max(len(label) for label in labels)
    assert chart.left - 6 >= widest * charts.TICK_CHAR_WIDTH  # the text ends 6 px left of the plot
    assert all(bar.x >= chart.left for bar in chart.bars)


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
