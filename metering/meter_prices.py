"""The meter prices metering reads (every installed meter with its unit price),
and Stripe's rounding of a metered line. Metering sits below the capability
framework, so the layer above registers the source of meter prices at start-up
(the registry's declared prices, which billing's price book replaces later);
metering never imports them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol


@dataclass(frozen=True)
class MeterInfo:
    capability: str
    capability_title: str
    meter: str
    unit: str
    unit_price: Decimal  # in force now
    currency: str
    # A change already scheduled (the price book's next version), if any.
    scheduled_price: Decimal | None = None
    scheduled_from: datetime | None = None


class MeterPrices(Protocol):
    def meters(self) -> list[MeterInfo]: ...


class _NoMeterPrices:
    def meters(self) -> list[MeterInfo]:
        return []


_source: MeterPrices = _NoMeterPrices()


def register(source: MeterPrices) -> None:
    global _source
    _source = source


def meters() -> list[MeterInfo]:
    return _source.meters()


def lookup() -> dict[tuple[str, str], MeterInfo]:
    return {(info.capability, info.meter): info for info in _source.meters()}


def describe(capability: str, meter: str) -> MeterInfo:
    """Info for a pair, also for usage of a capability no longer installed
    (shown with its key and no price)."""
    found = lookup().get((capability, meter))
    return found or MeterInfo(capability, capability, meter, meter, Decimal("0"), "usd")


def capability_title(capability: str) -> str:
    """The title of a capability with meters (its key if none is installed)."""
    return next(
        (info.capability_title for info in _source.meters() if info.capability == capability), capability
    )


def cost(quantity: int, info: MeterInfo) -> Decimal:
    """Exact cost of `quantity` units; rounding happens only when shown."""
    return Decimal(quantity) * info.unit_price


# Currencies without a minor unit (Stripe's zero-decimal currencies we could
# meet); every other currency counts in hundredths.
ZERO_DECIMAL = frozenset({"jpy", "krw", "vnd", "clp", "pyg", "ugx", "xaf", "xof"})


def minor_unit(currency: str) -> Decimal:
    return Decimal(1) if currency.lower() in ZERO_DECIMAL else Decimal("0.01")


def line_amount(quantity: int, unit_price: Decimal, currency: str) -> Decimal:
    """What one metered line of an invoice costs, by Stripe's rule: quantity
    times unit price, rounded half up to the currency's minor unit (Stripe rounds
    each line item; the invoice total is the sum of the rounded lines). A line
    is one meter of one organization over the range shown."""
    return (Decimal(quantity) * unit_price).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def invoice_total(amounts: Iterable[Decimal]) -> Decimal:
    """The sum of lines already rounded by `line_amount` (never re-rounded)."""
    return sum(amounts, Decimal(0))
