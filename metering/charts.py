"""Server-rendered charts: the geometry of a stacked bar chart of cost over time,
drawn by a template as inline SVG with class names and coordinates only (the
CSP allows no inline styles or scripts; colours live in switchboard.css)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from metering import formatting
from metering.periods import HOUR
from metering.queries.usage import Trend

WIDTH = 720
HEIGHT = 240
LEFT = 64  # room for the y-axis labels, at least
TICK_CHAR_WIDTH = 7  # px per character of an 11 px tick label (digits are ~6.1 px), with room to spare
TICK_GAP = 6  # px between a tick label's end and the plot
RIGHT = 8
TOP = 10
BOTTOM = 26  # room for the x-axis labels
SERIES_CLASSES = 8  # .chart-s0 … .chart-s7 in the stylesheet
MAX_LABELS = 8

B = TypeVar("B")  # a bucket: an hour, a day, a month
K = TypeVar("K")  # a series key


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    text: str


@dataclass(frozen=True)
class LegendEntry:
    css_class: str
    title: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    right_edge: int
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[XLabel]
    legend: list[LegendEntry]
    description: str


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 4, 6 or 8 times a power of ten that is >= value: its
    quarters (the grid lines) are round numbers too."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(1).scaleb(value.adjusted())
    for step in (1, 2, 4, 6, 8):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _tick_label(amount: Decimal, currency: str) -> str:
    """Cents when they are exact, else as many decimals as needed ($0.025)."""
    if amount == amount.quantize(formatting.CENT):
        return formatting.money(amount, currency)
    return formatting.unit_price(amount, currency)


def _bucket_label(bucket: datetime, hourly: bool) -> str:
    return f"{bucket:%H:%M}" if hourly else f"{bucket:%b} {bucket.day}"


def stacked_bars(
    buckets: Sequence[B],
    series: Mapping[K, str],
    amount_of: Callable[[B, K], Decimal],
    *,
    bucket_label: Callable[[B], str],
    value_label: Callable[[Decimal], str],
    tick_label: Callable[[Decimal], str] | None = None,
    describe: Callable[[list[Decimal]], str],
    legend_for_one: bool = True,
) -> BarChart:
    """The geometry of bars per bucket, one segment per series (key -> title),
    stacked from the baseline. Negative amounts (corrections, returns) are not
    drawn; the tables show them. `describe` gets each bucket's drawn total."""
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(TOP + plot_height)
    totals = [
        sum((max(amount_of(bucket, key), Decimal(0)) for key in series), Decimal(0)) for bucket in buckets
    ]
    ceiling = nice_ceiling(max(totals, default=Decimal(0)))
    ticks_text = tick_label or value_label
    tick_labels = [ticks_text(ceiling * step / 4) for step in range(5)]
    # The margin fits the longest label ("$80,000.00" was clipped to "80,000.00").
    left = max(LEFT, TICK_GAP + 2 + TICK_CHAR_WIDTH * max(len(label) for label in tick_labels))
    plot_width = WIDTH - left - RIGHT
    classes = {key: f"chart-s{index % SERIES_CLASSES}" for index, key in enumerate(series)}

    slot = plot_width / max(len(buckets), 1)
    bar_width = round(max(slot * 0.72, 1.0), 2)
    bars: list[Bar] = []
    for index, bucket in enumerate(buckets):
        x = round(left + index * slot + (slot - bar_width) / 2, 2)
        top = baseline
        for key, title in series.items():
            amount = amount_of(bucket, key)
            if amount <= 0:
                continue
            height = float(amount / ceiling) * plot_height
            top -= height
            bars.append(
                Bar(
                    x=x,
                    y=round(top, 2),
                    width=bar_width,
                    height=round(max(height, 0.5), 2),
                    css_class=classes[key],
                    title=f"{bucket_label(bucket)} · {title}: {value_label(amount)}",
                )
            )
    every = max(1, math.ceil(len(buckets) / MAX_LABELS))
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=left,
        right_edge=WIDTH - RIGHT,
        baseline=baseline,
        bars=bars,
        ticks=[
            Tick(y=round(baseline - plot_height * step / 4, 2), label=tick_labels[step]) for step in range(5)
        ],
        labels=[
            XLabel(x=round(left + index * slot + slot / 2, 2), text=bucket_label(bucket))
            for index, bucket in enumerate(buckets)
            if index % every == 0
        ],
        legend=[LegendEntry(classes[key], title) for key, title in series.items()]
        if legend_for_one or len(series) > 1
        else [],
        description=describe(totals),
    )


def stacked_bar_chart(trend: Trend) -> BarChart:
    """Cost per bucket, one segment per capability."""
    hourly = trend.period.bucket == HOUR
    span = "hour" if hourly else "day"

    def label(bucket: datetime) -> str:
        return _bucket_label(bucket, hourly)

    def describe(totals: list[Decimal]) -> str:
        return (
            f"Cost per {span} from {label(trend.buckets[0]) if trend.buckets else ''}, "
            f"stacked by capability; the highest {span} is "
            f"{formatting.money(max(totals, default=Decimal(0)), trend.currency)}."
        )

    return stacked_bars(
        trend.buckets,
        trend.series,
        trend.cost_at,
        bucket_label=label,
        value_label=lambda amount: formatting.money(amount, trend.currency),
        tick_label=lambda amount: _tick_label(amount, trend.currency),
        describe=describe,
    )
