"""The report's monthly charts in the house style: the geometry of
metering.charts (drawn by metering/includes/chart.html as inline SVG with
classes only, CSP-clean), fed with revenue per month stacked by region, and
units per month."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from metering import formatting
from metering.charts import SERIES_CLASSES, BarChart, stacked_bars

MAX_SERIES = SERIES_CLASSES - 1  # the rest of the regions share the last colour as "Other regions"


def _month_label(month: str) -> str:
    year, number = month.split("-")
    names = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{names[int(number) - 1]} {year}"


def _chart(
    months: list[str],
    series: dict[str, dict[str, Decimal]],
    label: Callable[[Decimal], str],
    description: str,
) -> BarChart:
    return stacked_bars(
        months,
        {title: title for title in series},
        lambda month, title: series[title].get(month, Decimal(0)),
        bucket_label=_month_label,
        value_label=label,
        describe=lambda totals: description,
        legend_for_one=False,
    )


def revenue_chart(figures: dict[str, Any]) -> BarChart:
    """Revenue per month, stacked by region (the biggest regions by name)."""
    currency = figures["currency"]
    months = [row["month"] for row in figures["months"]]
    series: dict[str, dict[str, Decimal]] = {}
    regions = figures["regions"]
    for region in regions[:MAX_SERIES] if len(regions) > MAX_SERIES + 1 else regions:
        series[region["region"]] = {month: Decimal(amount) for month, amount in region["by_month"].items()}
    if len(regions) > len(series):
        other: dict[str, Decimal] = {}
        for region in regions[len(series) :]:
            for month, amount in region["by_month"].items():
                other[month] = other.get(month, Decimal(0)) + Decimal(amount)
        series["Other regions"] = other
    best = max(figures["months"], key=lambda row: Decimal(row["revenue"]), default=None)
    description = (
        f"Revenue per month from {_month_label(months[0])} to {_month_label(months[-1])}, stacked by region; "
        f"the best month is {_month_label(best['month'])} with "
        f"{formatting.money(Decimal(best['revenue']), currency)}."
        if best
        else "No months."
    )
    return _chart(months, series, lambda amount: _tick_money(amount, currency), description)


def units_chart(figures: dict[str, Any]) -> BarChart:
    months = [row["month"] for row in figures["months"]]
    series = {"Units": {row["month"]: Decimal(row["units"]) for row in figures["months"]}}
    description = f"Units sold per month, {len(months)} months."
    return _chart(months, series, formatting.quantity, description)


def _tick_money(amount: Decimal, currency: str) -> str:
    return formatting.money(amount, currency.lower())
