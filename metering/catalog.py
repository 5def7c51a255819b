"""What metering needs to know about capabilities and prices, provided by the
layer above. Metering sits below the capability framework, so the framework
registers a catalog at start-up (and billing's price book replaces it later);
metering never imports them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
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


class MeterCatalog(Protocol):
    def meters(self) -> list[MeterInfo]: ...


class _EmptyCatalog:
    def meters(self) -> list[MeterInfo]:
        return []


_catalog: MeterCatalog = _EmptyCatalog()


def register(catalog: MeterCatalog) -> None:
    global _catalog
    _catalog = catalog


def meters() -> list[MeterInfo]:
    return _catalog.meters()


def lookup() -> dict[tuple[str, str], MeterInfo]:
    return {(info.capability, info.meter): info for info in _catalog.meters()}


def describe(capability: str, meter: str) -> MeterInfo:
    """Info for a pair, also for usage of a capability no longer installed
    (shown with its key and no price)."""
    found = lookup().get((capability, meter))
    return found or MeterInfo(capability, capability, meter, meter, Decimal("0"), "usd")


def cost(quantity: int, info: MeterInfo) -> Decimal:
    """Exact cost of `quantity` units; rounding happens only when shown."""
    return Decimal(quantity) * info.unit_price
