"""Read models of billing for its pages and API: the organization's account,
invoices and upcoming invoice, the price book's lines, reconciliation runs and
their lines, what Stripe told us, and the usage push backlog of the IT admin
health page. The ledger is read through metering's functions, never its models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from billing import stripe_gateway as gateway
from billing import sync
from billing.models import (
    BillingAccount,
    Invoice,
    MeterErrorReport,
    PriceVersion,
    ReconciliationLine,
    ReconciliationRun,
    UsagePush,
    WebhookEvent,
)
from billing.price_book import ensure_defaults
from billing.push import STRIPE_HORIZON, close_delay
from capabilities.registry import registry
from metering import meter_prices
from metering.moments import hour_of
from metering.periods import Period, billing_period
from metering.queries.backlog import oldest_usage_hour, usage_beyond
from metering.queries.usage import organization_rollups, usage_by_meter
from portal.models import Organization

# --- the organization's billing page ---------------------------------------------------


def billing_account(organization: Organization) -> BillingAccount | None:
    return BillingAccount.objects.filter(organization=organization).first()


def organization_invoices(organization: Organization) -> QuerySet[Invoice]:
    """The organization's invoices, newest period first."""
    return Invoice.objects.filter(organization=organization).order_by("-period_start", "-id")


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


def upcoming_invoice(organization: Organization, now: datetime) -> Upcoming:
    """The invoice of the period holding `now` so far: Stripe's preview beside
    our own estimate from the ledger and the price book, line by line, so any
    difference shows."""
    period = billing_period(now)
    result = Upcoming(period=period)
    account = BillingAccount.objects.filter(organization=organization).first()
    billed = {(item.capability, item.meter) for item in account.items.all()} if account else set()
    if not billed:
        # Not on Stripe yet (or Stripe unconfigured): estimate what the
        # subscription will hold, the enabled capabilities' priced meters.
        billed = set(sync.subscribed_meters(organization, now))  # no items yet
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


# --- the price book --------------------------------------------------------------------


@dataclass(frozen=True)
class PriceLine:
    """A meter with its price in force and what is scheduled."""

    capability: str
    capability_title: str
    meter: str
    unit: str
    current: PriceVersion
    scheduled: PriceVersion | None  # a version starting in a later period
    history: list[PriceVersion]
    version: str = ""  # a capability version's own meter: the version it prices


def price_lines(at: datetime | None = None) -> list[PriceLine]:
    """Every installed capability meter with its current price, any scheduled
    change and its history, for the price book page."""
    ensure_defaults()
    moment = at or timezone.now()
    by_meter: dict[tuple[str, str], list[PriceVersion]] = {}
    for version in PriceVersion.objects.select_related("created_by").order_by("-version"):
        by_meter.setdefault((version.capability, version.meter), []).append(version)
    result = []
    for capability in registry():
        for meter in capability.all_meters:
            history = by_meter.get((capability.key, meter.key), [])
            current = next(v for v in history if v.effective_from <= moment)
            scheduled = next((v for v in history if v.effective_from > moment), None)
            result.append(
                PriceLine(
                    capability.key,
                    capability.title,
                    meter.key,
                    meter.unit,
                    current,
                    scheduled,
                    history,
                    version=meter.version,
                )
            )
    return result


# --- reconciliation --------------------------------------------------------------------


def reconciliation_runs() -> QuerySet[ReconciliationRun]:
    """Every run, newest first, with who started it."""
    return ReconciliationRun.objects.select_related("triggered_by").order_by("-created_at", "-id")


def reconciliation_run(run_id: int) -> ReconciliationRun | None:
    return reconciliation_runs().filter(pk=run_id).first()


def run_lines(run: ReconciliationRun) -> QuerySet[ReconciliationLine]:
    """The run's lines with their organizations, by day, organization, capability and meter."""
    return run.lines.select_related("organization").order_by("day", "organization_id", "capability", "meter")


# --- what Stripe told us ---------------------------------------------------------------


def webhook_events() -> QuerySet[WebhookEvent]:
    """Every stored event, newest first, with its organization."""
    return WebhookEvent.objects.select_related("organization").order_by("-received_at", "-id")


def meter_errors(limit: int = 20) -> list[MeterErrorReport]:
    """Stripe's latest reports of meter events it could not use."""
    return list(MeterErrorReport.objects.order_by("-reported_at")[:limit])


def failed_payments() -> QuerySet[BillingAccount]:
    """Accounts whose last payment failed, the longest-failing first."""
    return (
        BillingAccount.objects.filter(payment_status=BillingAccount.Payment.FAILED)
        .select_related("organization")
        .order_by("payment_failed_at")
    )


# --- the usage push backlog ------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    """Closed hours of priced usage that are not on Stripe, for the health page:
    the ledger's totals against what Stripe acknowledged, so usage the planner
    never planned counts as much as a push that waits. Days older than Stripe's
    horizon are beyond what the push can send and are left out (`since`)."""

    quantity: int  # units not on Stripe
    hours: int  # organization-meter-hours they belong to
    organizations: int
    oldest_hour: datetime | None
    since: datetime  # the first hour looked at
    until: datetime  # the first hour not closed yet
    pending: int  # pushes planned and waiting to be sent
    rejected: int
    last_sent: datetime | None
    last_error: str  # of the oldest waiting push
    # Only looked for while nothing was ever sent: the first hour of priced
    # usage before `since`, which no push can send any more.
    never_sent_from: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.quantity == 0 and self.never_sent_from is None

    def age(self, now: datetime | None = None) -> timedelta | None:
        """How long the oldest hour not on Stripe has been closed."""
        if self.oldest_hour is None:
            return None
        return (now or timezone.now()) - (self.oldest_hour + timedelta(hours=1) + close_delay())


def sent_pushes(start: datetime, end: datetime) -> QuerySet[UsagePush, tuple[int, str, str, datetime, int]]:
    """What Stripe acknowledged for the hours in [start, end), as
    (organization_id, capability, meter, window_start, quantity) rows, a delta
    as its own row. Pending, rejected and cancelled pushes are not on Stripe."""
    return (
        UsagePush.objects.filter(status=UsagePush.Status.SENT, window_start__gte=start, window_start__lt=end)
        .values_list("organization_id", "capability", "meter", "window_start", "quantity")
        .order_by()
    )


def backlog(now: datetime | None = None) -> Backlog:
    """What waits to go to Stripe: the ledger's closed hours of priced meters
    (closed `BILLING_PUSH_CLOSE_DELAY` after they end) beyond what was sent, from
    the first whole UTC day Stripe still accepts. A fixed number of queries,
    whatever the rows."""
    moment = now or timezone.now()
    oldest = hour_of(moment - STRIPE_HORIZON)
    since = oldest if oldest.hour == 0 else oldest.replace(hour=0) + timedelta(days=1)
    until = hour_of(moment - close_delay())
    meters = set(sync.priced_meters(moment))
    outstanding = usage_beyond(sent_pushes(since, until), meters=meters, start=since, end=until)
    counts = UsagePush.objects.filter(
        status__in=[UsagePush.Status.PENDING, UsagePush.Status.REJECTED]
    ).aggregate(
        pending=Count("pk", filter=Q(status=UsagePush.Status.PENDING)),
        rejected=Count("pk", filter=Q(status=UsagePush.Status.REJECTED)),
    )
    last_error = (
        UsagePush.objects.filter(status=UsagePush.Status.PENDING)
        .order_by("created_at")
        .values_list("last_error", flat=True)
        .first()
    )
    last_sent = UsagePush.objects.aggregate(last=Max("sent_at"))["last"]
    return Backlog(
        quantity=outstanding.quantity,
        hours=outstanding.hours,
        organizations=outstanding.organizations,
        oldest_hour=outstanding.oldest_hour,
        since=since,
        until=until,
        pending=counts["pending"],
        rejected=counts["rejected"],
        last_sent=last_sent,
        last_error=last_error or "",
        never_sent_from=None if last_sent else oldest_usage_hour(meters, before=since),
    )
