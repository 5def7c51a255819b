"""The meter prices metering reads from the price book: built once per price
snapshot and registry, built again when a price changes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import actions
from billing.price_book import forget_cached_prices
from metering import meter_prices

pytestmark = pytest.mark.django_db(transaction=True)  # change_price is durable


def test_the_meter_list_is_built_once_per_price_snapshot_and_again_after_a_change(fiona):
    forget_cached_prices()
    first, again = meter_prices.meters(), meter_prices.meters()
    assert first == again
    assert first is not again  # each caller gets its own list
    assert all(built is reused for built, reused in zip(first, again, strict=True))  # built once

    actions.change_price(fiona, "ocr", "pages", Decimal("0.02"), note="engines cost more")

    after = {(info.capability, info.meter): info for info in meter_prices.meters()}
    assert after[("ocr", "pages")].scheduled_price == Decimal("0.02")
    assert after[("ocr", "pages")].unit_price == Decimal("0.01")  # until the next period starts
