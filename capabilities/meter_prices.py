"""The meter prices metering reads: every capability's meters (retired services'
too, whose usage is still shown and billed) with their default prices from the
registry (billing's price book overrides it)."""

from __future__ import annotations

from capabilities.registry import registry
from metering.meter_prices import MeterInfo


class RegistryMeterPrices:
    def meters(self) -> list[MeterInfo]:
        return [
            MeterInfo(
                capability=capability.key,
                capability_title=capability.title,
                meter=meter.key,
                unit=meter.unit,
                unit_price=meter.unit_price,
                currency=meter.currency,
            )
            for capability in registry().billable()
            for meter in capability.all_meters
        ]
