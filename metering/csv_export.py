"""CSV exports of the usage pages. Cells a spreadsheet would read as a formula
(starting with = + - @, a tab or a carriage return) are prefixed with a single
quote; numbers we write ourselves stay numbers."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from django.http import HttpResponse

from metering import formatting
from metering.periods import HOUR, Period
from metering.queries.finance import OrganizationLine
from metering.queries.usage import PriceList

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | Decimal | None


def neutralise(value: Cell) -> str:
    """A cell as text that no spreadsheet evaluates."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal):  # our own numbers: "-5" is a quantity, not a formula
        return formatting.exact(value) if isinstance(value, Decimal) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return response


def _bucket_text(bucket: datetime, period: Period) -> str:
    return bucket.strftime("%Y-%m-%dT%H:00Z") if period.bucket == HOUR else bucket.date().isoformat()


USAGE_HEADER = (
    "period",
    "capability",
    "capability_name",
    "meter",
    "unit",
    "quantity",
    "unit_price",
    "cost",
    "currency",
)


def usage_rows(time_rows: Iterable[tuple[datetime, str, str, int]], period: Period) -> list[tuple[Cell, ...]]:
    """One row per hour or day (as the chart) and capability and meter, exact costs."""
    rows: list[tuple[Cell, ...]] = []
    prices = PriceList()
    for bucket, capability, meter, quantity in sorted(time_rows):
        line = prices.line(capability, meter, quantity)
        rows.append(
            (
                _bucket_text(bucket, period),
                capability,
                line.capability_title,
                meter,
                line.unit,
                quantity,
                line.unit_price,
                line.cost,
                line.currency,
            )
        )
    return rows


FINANCE_HEADER = (
    "start",
    "end",
    "organization",
    "organization_name",
    "capability",
    "capability_name",
    "meter",
    "unit",
    "quantity",
    "unit_price",
    "revenue",
    "currency",
)


def finance_rows(lines: Iterable[OrganizationLine], period: Period) -> list[tuple[Cell, ...]]:
    start, last = period.start.date().isoformat(), period.last_day.isoformat()
    return [
        (
            start,
            last,
            item.organization_slug,
            item.organization_name,
            item.line.capability,
            item.line.capability_title,
            item.line.meter,
            item.line.unit,
            item.line.quantity,
            item.line.unit_price,
            item.revenue,
            item.line.currency,
        )
        for item in lines
    ]
