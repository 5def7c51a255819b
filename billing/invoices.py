"""The upcoming invoice: Stripe's preview (`invoices.create_preview`) beside
our own estimate from the ledger and the price book, line by line, so any
difference shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing import stripe_gateway as gateway
from billing.models import BillingAccount, PriceVersion
from billing.sync import priced_meters
from capabilities import enabled_in_database
from metering import meter_prices
from metering.periods import Period, billing_period
from metering.queries.usage import organization_rollups, usage_by_meter
from portal.models import Organization


@dataclass
class ComparedLine:
    capability: str
    capability_title: str
    meter: str
    unit: str
    local_quantity: int = 0
    local_amount: Decimal = Decimal(0)  # in currency units, rounded to the cent as Stripe does per line
    stripe_quantity: int | None = None
    stripe_amount: Decimal | None = None

    @property
    def differs(self) -> bool:
        return self.stripe_amount is None or self.stripe_amount != self.local_amount

    @property
    def difference(self) -> Decimal | None:
        return None if self.stripe_amount is None else self.stripe_amount - self.local_amount


@dataclass
class Upcoming:
    period: Period
    currency: str = "usd"
    lines: list[ComparedLine] = field(default_factory=list)
    stripe_total: Decimal | None = None
    stripe_error: str = ""

    @property
    def local_total(self) -> Decimal:
        return meter_prices.invoice_total(line.local_amount for line in self.lines)

    @property
    def difference(self) -> Decimal | None:
        return None if self.stripe_total is None else self.stripe_total - self.local_total


def _price_of(line: dict[str, Any]) -> str:
    """The price id of an invoice line, wherever the API version puts it."""
    pricing = line.get("pricing") or {}
    details = pricing.get("price_details") or {}
    price = details.get("price") or line.get("price")
    if isinstance(price, dict):
        return str(price.get("id") or "")
    return str(price or "")


def upcoming(organization: Organization, now: datetime) -> Upcoming:
    period = billing_period(now)
    result = Upcoming(period=period)
    account = BillingAccount.objects.filter(organization=organization).first()
    billed = {(item.capability, item.meter) for item in account.items.all()} if account else set()
    if not billed:
        # Not on Stripe yet (or Stripe unconfigured): estimate what the
        # subscription will hold, the enabled capabilities' priced meters.
        enabled = enabled_in_database(organization)
        billed = {pair for pair in priced_meters(now) if pair[0] in enabled}
    by_pair: dict[tuple[str, str], ComparedLine] = {}
    for usage in usage_by_meter(organization_rollups(organization), period):
        if (usage.capability, usage.meter) not in billed:
            continue
        info = meter_prices.describe(usage.capability, usage.meter)
        result.currency = info.currency
        by_pair[(usage.capability, usage.meter)] = ComparedLine(
            capability=usage.capability,
            capability_title=info.capability_title,
            meter=usage.meter,
            unit=info.unit,
            local_quantity=usage.quantity,
            local_amount=usage.amount,  # Stripe's rule for a metered line (meter_prices.line_amount)
        )
    result.lines = sorted(by_pair.values(), key=lambda line: (line.capability_title, line.meter))
    if not gateway.configured():
        result.stripe_error = (
            "Stripe is not configured yet, so there is no invoice preview; the estimate is Switchboard's own."
        )
        return result
    if account is None or not account.stripe_subscription_id:
        result.stripe_error = (
            "The subscription on Stripe starts at the next sync after a paid capability is switched on."
            if billed
            else "No subscription on Stripe yet: it starts when a paid capability is switched on."
        )
        return result
    try:
        preview = gateway.preview_invoice(
            customer=account.stripe_customer_id, subscription=account.stripe_subscription_id
        )
    except gateway.GatewayError as error:
        result.stripe_error = f"Stripe's preview is unavailable right now: {error.message.rstrip('.')}."
        return result
    meters = {
        version.stripe_price_id: (version.capability, version.meter)
        for version in PriceVersion.objects.exclude(stripe_price_id="").only(
            "stripe_price_id", "capability", "meter"
        )
    }
    result.currency = str(preview.get("currency") or result.currency)
    for line in (preview.get("lines") or {}).get("data", []):
        pair = meters.get(_price_of(line))
        if pair is None:
            continue
        info = meter_prices.describe(*pair)
        compared = by_pair.setdefault(pair, ComparedLine(pair[0], info.capability_title, pair[1], info.unit))
        compared.stripe_quantity = (compared.stripe_quantity or 0) + int(line.get("quantity") or 0)
        compared.stripe_amount = (compared.stripe_amount or Decimal(0)) + Decimal(
            int(line.get("amount") or 0)
        ) / 100
    result.stripe_total = Decimal(int(preview.get("total") or 0)) / 100
    result.lines = sorted(by_pair.values(), key=lambda line: (line.capability_title, line.meter))
    return result
