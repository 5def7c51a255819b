"""Suggesting the mapping and reading a row's cells."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from capabilities.reports.models import DateOrder
from capabilities.reports.sales import RowError, parse_date, parse_revenue, parse_units, suggest_mapping


def test_mapping_is_suggested_from_differing_headers():
    headers = ["Order Date", "Sales Region", "SKU Code", "Qty", "Amount (USD)", "Notes"]
    assert suggest_mapping(headers) == {
        "date": "Order Date",
        "region": "Sales Region",
        "sku": "SKU Code",
        "units": "Qty",
        "revenue": "Amount (USD)",
    }


def test_unknown_headers_are_left_for_the_person():
    assert suggest_mapping(["When", "Where", "What", "Qty", "Revenue"]) == {
        "units": "Qty",
        "revenue": "Revenue",
    }


@pytest.mark.parametrize(
    ("cell", "order", "expected"),
    [
        ("2025-03-04", DateOrder.DAY_FIRST, date(2025, 3, 4)),
        ("2025-03-04 10:15:00", DateOrder.DAY_FIRST, date(2025, 3, 4)),
        ("04.03.2025", DateOrder.MONTH_FIRST, date(2025, 3, 4)),
        ("04/03/2025", DateOrder.DAY_FIRST, date(2025, 3, 4)),
        ("03/04/2025", DateOrder.MONTH_FIRST, date(2025, 3, 4)),
        (datetime(2025, 3, 4, 9, 30), DateOrder.DAY_FIRST, date(2025, 3, 4)),
    ],
)
def test_dates_in_the_clear_formats(cell, order, expected):
    assert parse_date(cell, order) == expected


@pytest.mark.parametrize(
    ("cell", "reason"),
    [("", "the date is empty"), ("March 4", "is not a date we read"), ("2025-02-30", "is not a real date")],
)
def test_bad_dates_say_why(cell, reason):
    with pytest.raises(RowError, match=reason):
        parse_date(cell, DateOrder.DAY_FIRST)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,234.50", Decimal("1234.50")),
        ("$12", Decimal("12")),
        ("(12.00)", Decimal("-12.00")),
        ("-7.25", Decimal("-7.25")),
        (19.99, Decimal("19.99")),
        (0.1, Decimal("0.1")),
        (42, Decimal(42)),
    ],
)
def test_revenue_is_an_exact_decimal(cell, expected):
    amount = parse_revenue(cell)
    assert isinstance(amount, Decimal)
    assert amount == expected


@pytest.mark.parametrize("cell", ["twelve", "1.2.3", "12,34", "", None, True])
def test_bad_revenue_is_refused(cell):
    with pytest.raises(RowError):
        parse_revenue(cell)


@pytest.mark.parametrize(
    ("cell", "expected"), [(12, 12), ("12", 12), (12.0, 12), ("1,200", 1200), ("3.0", 3)]
)
def test_units_are_whole_numbers(cell, expected):
    assert parse_units(cell) == expected


@pytest.mark.parametrize("cell", [12.5, "12.5", "a dozen", ""])
def test_fractional_or_text_units_are_refused(cell):
    with pytest.raises(RowError):
        parse_units(cell)
