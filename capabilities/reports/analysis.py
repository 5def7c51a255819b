"""The figures of a sales report: totals, by month, region and SKU, the
top-selling SKUs, and the regions flagged as underperforming. Decimal money,
integer units; the result is JSON (amounts as exact decimal strings).

Underperformance, two rules (shown on every report):

- Against the others: a region whose revenue over the whole report is below
  PEER_THRESHOLD_PERCENT of the median region's revenue. Needs three regions
  or more (with two, the median is their average and says little).
- Against its own trend: the last quarter (the three calendar months ending
  with the latest month that has sales) against the quarter before it; a
  region whose revenue fell by more than TREND_DROP_PERCENT is flagged. Runs
  only when the data reaches back into the previous quarter's first month,
  so a partial year is not compared with nothing.

Top-selling SKUs are ranked by revenue, then units, then SKU name."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from capabilities.reports.sales import SaleRow
from metering import formatting

PEER_THRESHOLD_PERCENT = Decimal(50)
TREND_DROP_PERCENT = Decimal(20)
TOP_SKUS = 10
MAX_BAD_ROWS_KEPT = 500  # in the result; the count is always exact
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def _month_index(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def _average(revenue: Decimal, units: int) -> str | None:
    return _money(revenue / units) if units > 0 else None


def _percent(part: Decimal, whole: Decimal) -> str:
    if whole == 0:
        return "0.0"
    return f"{(part * 100 / whole).quantize(TENTH, rounding=ROUND_HALF_UP):f}"


@dataclass
class Tally:
    revenue: Decimal = Decimal(0)
    units: int = 0

    def add(self, row: SaleRow) -> None:
        self.revenue += row.revenue
        self.units += row.units


@dataclass
class BadRow:
    file: str
    row: int
    reason: str


@dataclass
class FileTally:
    name: str
    rows: int = 0
    bad_rows: int = 0


@dataclass
class Summary:
    """Accumulates rows as the job reads them; `as_result` is the report."""

    currency: str = "USD"
    total: Tally = field(default_factory=Tally)
    months: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    regions: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    skus: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    region_months: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    files: list[FileTally] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    bad_row_count: int = 0
    rows: int = 0

    def start_file(self, name: str) -> FileTally:
        tally = FileTally(name)
        self.files.append(tally)
        return tally

    def add(self, row: SaleRow, source: FileTally) -> None:
        self.rows += 1
        source.rows += 1
        month = row.month
        self.total.add(row)
        self.months[month].add(row)
        self.regions[row.region].add(row)
        self.skus[row.sku].add(row)
        self.region_months[(row.region, month)] += row.revenue

    def reject(self, source: FileTally, row_number: int, reason: str) -> None:
        self.bad_row_count += 1
        source.bad_rows += 1
        if len(self.bad_rows) < MAX_BAD_ROWS_KEPT:
            self.bad_rows.append(BadRow(source.name, row_number, reason))

    # --- the report ----------------------------------------------------------

    def ranked_skus(self) -> list[tuple[str, Tally]]:
        return sorted(self.skus.items(), key=lambda item: (-item[1].revenue, -item[1].units, item[0]))

    def ranked_regions(self) -> list[tuple[str, Tally]]:
        return sorted(self.regions.items(), key=lambda item: (-item[1].revenue, item[0]))

    def _said(self, amount: Decimal) -> str:
        """An amount in a sentence: with the currency and separators ($76,322.96);
        the figures themselves stay exact decimal strings."""
        return formatting.money(amount, self.currency.lower())

    def peer_flags(self) -> tuple[list[dict[str, Any]], str]:
        if len(self.regions) < 3:
            return [], "Needs three regions or more."
        median = statistics.median(tally.revenue for tally in self.regions.values())
        if median <= 0:
            return [], "The median region has no revenue."
        floor = median * PEER_THRESHOLD_PERCENT / 100
        said = self._said
        flags = [
            {
                "region": region,
                "rule": "peers",
                "revenue": _money(tally.revenue),
                "compared_with": _money(median),
                "reason": f"Revenue {said(tally.revenue)} is {_percent(tally.revenue, median)}% of the "
                f"median region ({said(median)}); the floor is {PEER_THRESHOLD_PERCENT}%.",
            }
            for region, tally in self.ranked_regions()
            if tally.revenue < floor
        ]
        return flags, f"Median region revenue {said(median)}; floor {said(floor)}."

    def trend_flags(self) -> tuple[list[dict[str, Any]], str]:
        if not self.months:
            return [], "No months."
        indexes = sorted(_month_index(month) for month in self.months)
        latest = indexes[-1]
        last = [_month_name(latest - offset) for offset in (2, 1, 0)]
        previous = [_month_name(latest - offset) for offset in (5, 4, 3)]
        if indexes[0] > latest - 5:
            return [], (
                f"Needs sales from {previous[0]} or earlier to compare {last[0]} to {last[-1]} "
                f"with {previous[0]} to {previous[-1]}."
            )
        flags = []
        for region, _tally in self.ranked_regions():
            now = sum((self.region_months.get((region, month), Decimal(0)) for month in last), Decimal(0))
            before = sum(
                (self.region_months.get((region, month), Decimal(0)) for month in previous), Decimal(0)
            )
            if before > 0 and now < before * (100 - TREND_DROP_PERCENT) / 100:
                change = _percent(now - before, before)
                flags.append(
                    {
                        "region": region,
                        "rule": "trend",
                        "revenue": _money(now),
                        "compared_with": _money(before),
                        "reason": f"Revenue {last[0]} to {last[-1]} {self._said(now)} "
                        f"vs {self._said(before)} in "
                        f"{previous[0]} to {previous[-1]} ({change}%); the limit is -{TREND_DROP_PERCENT}%.",
                    }
                )
        return flags, f"{last[0]} to {last[-1]} compared with {previous[0]} to {previous[-1]}."

    def as_result(self) -> dict[str, Any]:
        months = sorted(self.months)
        peer_flags, peer_basis = self.peer_flags()
        trend_flags, trend_basis = self.trend_flags()
        ranked_skus = self.ranked_skus()
        return {
            "currency": self.currency,
            "totals": {
                "revenue": _money(self.total.revenue),
                "units": self.total.units,
                "average_price": _average(self.total.revenue, self.total.units),
                "rows": self.rows,
                "bad_rows": self.bad_row_count,
                "files": len(self.files),
                "months": len(months),
                "regions": len(self.regions),
                "skus": len(self.skus),
                "first_month": months[0] if months else None,
                "last_month": months[-1] if months else None,
            },
            "months": [
                {
                    "month": month,
                    "revenue": _money(self.months[month].revenue),
                    "units": self.months[month].units,
                    "average_price": _average(self.months[month].revenue, self.months[month].units),
                }
                for month in months
            ],
            "regions": [
                {
                    "region": region,
                    "revenue": _money(tally.revenue),
                    "units": tally.units,
                    "average_price": _average(tally.revenue, tally.units),
                    "share_percent": _percent(tally.revenue, self.total.revenue),
                    "by_month": {
                        month: _money(self.region_months[(region, month)])
                        for month in months
                        if (region, month) in self.region_months
                    },
                }
                for region, tally in self.ranked_regions()
            ],
            "skus": [
                {
                    "rank": rank,
                    "sku": sku,
                    "revenue": _money(tally.revenue),
                    "units": tally.units,
                    "average_price": _average(tally.revenue, tally.units),
                }
                for rank, (sku, tally) in enumerate(ranked_skus, start=1)
            ],
            "top_skus": [sku for sku, _ in ranked_skus[:TOP_SKUS]],
            "flags": peer_flags + trend_flags,
            "rules": {
                "peers": {"threshold_percent": str(PEER_THRESHOLD_PERCENT), "basis": peer_basis},
                "trend": {"drop_percent": str(TREND_DROP_PERCENT), "basis": trend_basis},
            },
            "files": [
                {"name": tally.name, "rows": tally.rows, "bad_rows": tally.bad_rows} for tally in self.files
            ],
            "bad_rows": [{"file": bad.file, "row": bad.row, "reason": bad.reason} for bad in self.bad_rows],
            "bad_rows_truncated": self.bad_row_count > len(self.bad_rows),
        }
