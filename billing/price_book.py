"""The price book: a price per meter, versioned. Every capability meter starts
at the default price its app declares (version 1); platform finance changes a
price by adding a version (`billing.actions.change_price`) that applies from
the start of a billing period, so a period is always billed at one price and
estimates match the invoice. Each version becomes its own Stripe Price when
billing syncs.

The price book is also the source of the meter prices metering prices usage
with (`metering.meter_prices`): usage pages show what the invoice will say."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from billing.models import PriceVersion
from capabilities.registry import Registry, registry
from metering.meter_prices import MeterInfo
from metering.periods import billing_period

# Version 1 of every price: the app's declared default, in force from the start.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
# Stripe takes `unit_amount_decimal` in cents with at most 12 decimal places.
MAX_DECIMAL_PLACES = 10


def ensure_defaults() -> None:
    """Version 1 for every capability meter (retired services' too) that has no price yet."""
    existing = set(PriceVersion.objects.values_list("capability", "meter"))
    missing = [
        PriceVersion(
            capability=capability.key,
            meter=meter.key,
            version=1,
            unit_price=meter.unit_price,
            currency=meter.currency,
            effective_from=BEGINNING,
            note="Default price declared by the capability",
        )
        for capability in registry().billable()
        for meter in capability.all_meters
        if (capability.key, meter.key) not in existing
    ]
    if missing:
        PriceVersion.objects.bulk_create(missing, ignore_conflicts=True)
        forget_cached_prices()


# Prices read by every usage page: kept per process for a few seconds. A change
# applies from a future period start, so a few seconds' staleness never
# misprices anything; this process's own changes clear it at once.
CACHE_SECONDS = 5.0
Prices = dict[tuple[str, str], PriceVersion]
_cache: dict[str, tuple[float, Prices, Prices]] = {}


def forget_cached_prices() -> None:
    _cache.clear()


def _cached() -> tuple[Prices, Prices]:
    cached = _cache.get("now")
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1], cached[2]
    moment = timezone.now()
    in_force: Prices = {}
    scheduled: Prices = {}
    # One query for both: the price book holds a few versions per meter.
    for version in PriceVersion.objects.order_by("capability", "meter", "version"):
        pair = (version.capability, version.meter)
        if version.effective_from <= moment:
            in_force[pair] = version  # the highest version wins
        elif pair not in scheduled or version.effective_from <= scheduled[pair].effective_from:
            scheduled[pair] = version  # the earliest start; for one start, the highest version
    _cache["now"] = (time.monotonic(), in_force, scheduled)
    return in_force, scheduled


def current_prices() -> Prices:
    """`versions_in_force` now, from the short per-process cache."""
    return _cached()[0]


def scheduled_prices() -> Prices:
    """The next version of each meter's price that starts after now, if any:
    what a price will be from its period's start (from the same cache)."""
    return _cached()[1]


def versions_in_force(at: datetime | None = None) -> Prices:
    """The version of each meter's price that applies at `at` (one query)."""
    moment = at or timezone.now()
    in_force: dict[tuple[str, str], PriceVersion] = {}
    rows = PriceVersion.objects.filter(effective_from__lte=moment).order_by("capability", "meter", "version")
    for version in rows:
        in_force[(version.capability, version.meter)] = version  # the highest version wins
    return in_force


def next_period_start(at: datetime | None = None) -> datetime:
    return billing_period(at or timezone.now()).end


def plain(amount: Decimal) -> Decimal:
    """A stored price without the column's trailing zeros (0.010000000000 -> 0.01)."""
    normalized = amount.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral_value() else normalized


class PriceBookMeterPrices:
    """Metering's meter prices, from the price book (replaces the
    registry's defaults once billing is installed).

    The list is built once per price snapshot and registry: pages ask for it
    many times a request (the catalog 20 times, `/finance/` 31), and building
    it from every capability's meters took 0.15 ms each time, a fifth of the
    catalog's time. The snapshot's dictionaries and the registry are new
    objects whenever they change (the price cache refreshes, a price changes,
    a service is registered), so their identity says when to build again."""

    def __init__(self) -> None:
        self._built: tuple[Prices, Prices, Registry, list[MeterInfo]] | None = None

    def meters(self) -> list[MeterInfo]:
        in_force, scheduled = _cached()
        catalog = registry()
        built = self._built
        if built is not None and built[0] is in_force and built[1] is scheduled and built[2] is catalog:
            return list(built[3])
        infos = self._build(in_force, scheduled, catalog)
        self._built = (in_force, scheduled, catalog, infos)
        return list(infos)

    @staticmethod
    def _build(in_force: Prices, scheduled: Prices, catalog: Registry) -> list[MeterInfo]:
        infos = []
        for capability in catalog:
            for meter in capability.all_meters:
                version = in_force.get((capability.key, meter.key))
                upcoming = scheduled.get((capability.key, meter.key))
                infos.append(
                    MeterInfo(
                        capability=capability.key,
                        capability_title=capability.title,
                        meter=meter.key,
                        unit=meter.unit,
                        unit_price=plain(version.unit_price) if version else meter.unit_price,
                        currency=version.currency if version else meter.currency,
                        scheduled_price=plain(upcoming.unit_price) if upcoming else None,
                        scheduled_from=upcoming.effective_from if upcoming else None,
                    )
                )
        return infos
