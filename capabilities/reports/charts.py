"""The report's monthly charts in the house style: the geometry of
metering.charts (drawn by metering/includes/chart.html as inline SVG with
classes only, CSP-clean), fed with revenue per month stacked by region, and
units per month."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from metering import formatting
from metering.charts import (
    BOTTOM,
    HEIGHT,
    LEFT,
    MAX_LABELS,
    RIGHT,
    SERIES_CLASSES,
    TOP,
    WIDTH,
    Bar,
    BarChart,
    LegendEntry,
    Tick,
    XLabel,
    nice_ceiling,
)

MAX_SERIES = SERIES_CLASSES - 1  # the rest of the regions share the last colour as "Other regions"


def _month_label(month: str) -> str:
    year, number = month.split("-")
    names = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{names[int(number) - 1]} {year}"


def _chart(
    months: list[str],
    series: dict[str, dict[str, Decimal]],
    label: Any,
    description: str,
) -> BarChart:
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(TOP + plot_height)
    totals = [
        sum((max(values.get(month, Decimal(0)), Decimal(0)) for values in series.values()), Decimal(0))
        for month in months
    ]
    ceiling = nice_ceiling(max(totals, default=Decimal(0)))
    classes = {title: f"chart-s{index % SERIES_CLASSES}" for index, title in enumerate(series)}
    slot = plot_width / max(len(months), 1)
    bar_width = round(max(slot * 0.72, 1.0), 2)
    bars: list[Bar] = []
    for index, month in enumerate(months):
        x = round(LEFT + index * slot + (slot - bar_width) / 2, 2)
        top = baseline
        for title, values in series.items():
            amount = values.get(month, Decimal(0))
            if amount <= 0:
                continue  # returns are in the tables, not drawn below the axis
            height = float(amount / ceiling) * plot_height
            top -= height
            bars.append(
                Bar(
                    x=x,
                    y=round(top, 2),
                    width=bar_width,
                    height=round(max(height, 0.5), 2),
                    css_class=classes[title],
                    title=f"{_month_label(month)} · {title}: {label(amount)}",
                )
            )
    every = max(1, math.ceil(len(months) / MAX_LABELS))
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right_edge=WIDTH - RIGHT,
        baseline=baseline,
        bars=bars,
        ticks=[
            Tick(y=round(baseline - plot_height * step / 4, 2), label=label(ceiling * step / 4))
            for step in range(5)
        ],
        labels=[
            XLabel(x=round(LEFT + index * slot + slot / 2, 2), text=_month_label(month))
            for index, month in enumerate(months)
            if index % every == 0
        ],
        legend=[LegendEntry(classes[title], title) for title in series] if len(series) > 1 else [],
        description=description,
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
    return _chart(months, series, lambda amount: f"{amount:,.0f}", description)


def _tick_money(amount: Decimal, currency: str) -> str:
    return formatting.money(amount, currency.lower())
