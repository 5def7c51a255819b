"""What a sales row is: suggesting which column holds which field from header
names, and turning a row's cells into a SaleRow (Decimal revenue, whole units,
a date read by a few clear formats) or a reason it was left out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from capabilities.reports.models import FIELD_LABELS, REQUIRED_FIELDS, DateOrder
from capabilities.reports.sources import Cell

# Header names people use for each field, normalised (lower case, letters and
# digits only, words in order). The first field to claim a header keeps it.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": ("date", "order date", "sale date", "sales date", "invoice date", "transaction date", "day"),
    "region": ("region", "sales region", "territory", "area", "market", "zone"),
    "sku": ("sku", "product", "product code", "item", "item code", "article", "product id", "sku code"),
    "units": ("units", "qty", "quantity", "units sold", "volume", "pieces", "count"),
    "revenue": ("revenue", "amount", "sales", "net sales", "total", "sales amount", "turnover", "value"),
}
# Words that may surround a synonym: "Amount (USD)", "Revenue EUR", "Total $".
NOISE = {"usd", "eur", "gbp", "in", "net", "gross", "total"}


def normalise(header: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", header.lower()))


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """field -> header, for each field a header plainly names. Exact names win
    over names with a currency or "net"/"total" around them."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    normalised = {header: normalise(header) for header in headers}
    for exact in (True, False):
        for field in REQUIRED_FIELDS:
            if field in mapping:
                continue
            for header, name in normalised.items():
                if header in taken:
                    continue
                words = name.split()
                core = " ".join(word for word in words if word not in NOISE) or name
                if name in SYNONYMS[field] if exact else core in SYNONYMS[field]:
                    mapping[field] = header
                    taken.add(header)
                    break
    return mapping


class RowError(Exception):
    """Why a row was left out of the report."""


@dataclass(frozen=True)
class SaleRow:
    day: date
    region: str
    sku: str
    units: int
    revenue: Decimal

    @property
    def month(self) -> str:
        return f"{self.day:%Y-%m}"


MAX_TEXT = 120
ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
DATE_HELP = "use 2025-01-31, 31.01.2025 or a slash date in the set's order"


def parse_date(value: Cell, order: str) -> date:
    """A date cell: a real date (XLSX), ISO 2025-01-31 (with or without a
    time), 31.01.2025, or 31/01/2025 vs 01/31/2025 by the set's date order."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value if value is not None else "").strip()
    if not text:
        raise RowError("the date is empty")
    try:
        if match := ISO.match(text):
            year, month, day = (int(part) for part in match.groups())
        elif match := DOTTED.match(text):
            day, month, year = (int(part) for part in match.groups())
        elif match := SLASHED.match(text):
            first, second, year = (int(part) for part in match.groups())
            day, month = (first, second) if order == DateOrder.DAY_FIRST else (second, first)
        else:
            raise RowError(f"{text[:40]!r} is not a date we read ({DATE_HELP})")
        return date(year, month, day)
    except ValueError:
        raise RowError(f"{text[:40]!r} is not a real date") from None


AMOUNT = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$|^-?\d+(\.\d+)?$")


def parse_revenue(value: Cell) -> Decimal:
    """Revenue as an exact Decimal: numbers from XLSX (a float is read through
    its shortest repr, so 19.99 stays 19.99), or text like "1,234.50", "$12",
    "(12.00)" for a negative amount (returns)."""
    if isinstance(value, bool):
        raise RowError("the revenue is not an amount")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise RowError("the revenue is not an amount")
        return Decimal(repr(value))
    text = str(value if value is not None else "").strip()
    if not text:
        raise RowError("the revenue is empty")
    negative = text.startswith("(") and text.endswith(")")
    cleaned = text.strip("()").replace(" ", "").lstrip("$€£").removesuffix("USD").removesuffix("EUR")
    if cleaned.startswith("-") and cleaned[1:2] in "$€£":
        cleaned = "-" + cleaned[2:]
    if not AMOUNT.match(cleaned):
        raise RowError(f"the revenue {text[:40]!r} is not an amount")
    try:
        amount = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        raise RowError(f"the revenue {text[:40]!r} is not an amount") from None
    return -amount if negative else amount


def parse_units(value: Cell) -> int:
    """Units as a whole number: 12, "12", 12.0 from XLSX; 12.5 is refused."""
    if isinstance(value, bool):
        raise RowError("the units are not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if value != value or Decimal(str(value)) != int(value):
            raise RowError(f"the units {value} are not a whole number")
        return int(value)
    text = str(value if value is not None else "").strip().replace(",", "")
    if not text:
        raise RowError("the units are empty")
    if re.fullmatch(r"-?\d+(\.0+)?", text):
        return int(Decimal(text))
    raise RowError(f"the units {text[:40]!r} are not a whole number")


def parse_text(value: Cell, field: str) -> str:
    text = ("" if value is None else str(value)).strip()
    if not text:
        raise RowError(f"the {FIELD_LABELS[field].lower() if field != 'sku' else 'SKU'} is empty")
    return text[:MAX_TEXT]


def parse_row(cells: list[Cell], columns: dict[str, int], order: str) -> SaleRow:
    """A row's cells by the mapping's column positions -> SaleRow, or RowError."""

    def cell(field: str) -> Cell:
        position = columns[field]
        return cells[position] if position < len(cells) else None

    return SaleRow(
        day=parse_date(cell("date"), order),
        region=parse_text(cell("region"), "region"),
        sku=parse_text(cell("sku"), "sku"),
        units=parse_units(cell("units")),
        revenue=parse_revenue(cell("revenue")),
    )
