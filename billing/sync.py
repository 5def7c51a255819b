"""Keeping Stripe in step with the portal: a Billing Meter (sum) and a Product
for every priced capability meter, a metered Price for every price version,
a Customer per organization and one subscription per organization whose items
follow its enabled capabilities.

Every step is idempotent: ids are saved as soon as Stripe returns them, each
create carries an idempotency key derived from our own ids (so a crash between
Stripe's answer and our save can't create a twin), and a meter is looked up by
event name before it is created. Re-running sync is always safe.

Items: added when a capability is switched on; when it is switched off the item
stays until the end of the billing period (its usage is still invoiced) and is
removed after that only if the capability is still off. A version priced
differently has an item of its own while the organization runs that version
(`subscribed_meters`), kept and removed by the same rule."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from billing import price_book
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, PriceVersion, StripeMeter, SubscriptionItem
from capabilities import enabled_in_database, organizations_with_any_on, releases
from capabilities.registry import registry
from metering.periods import billing_period
from metering.queries.usage import organization_rollups, usage_by_meter
from portal.models import Membership, Organization, Role

logger = logging.getLogger(__name__)

# An item of a switched-off capability is removed this long after its period
# ends, once Stripe has drawn up the period's invoice.
REMOVAL_DELAY = timedelta(hours=1)


def event_name(capability: str, meter: str) -> str:
    return f"switchboard.{capability}.{meter}"


@dataclass
class SyncReport:
    meters_created: int = 0
    prices_created: int = 0
    customers_created: int = 0
    subscriptions_created: int = 0
    items_added: int = 0
    items_removed: int = 0
    errors: list[str] = field(default_factory=list)


def priced_meters(at: datetime | None = None) -> dict[tuple[str, str], PriceVersion]:
    """Meters billed on Stripe at `at`: installed ones whose price in force is above zero."""
    price_book.ensure_defaults()
    installed = {(c.key, m.key) for c in registry().billable() for m in c.all_meters}
    return {
        pair: version
        for pair, version in price_book.versions_in_force(at).items()
        if pair in installed and version.unit_price > 0
    }


def subscribed_meters(
    organization: Organization, moment: datetime, held: frozenset[tuple[str, str]] = frozenset()
) -> dict[tuple[str, str], PriceVersion]:
    """The meters `organization`'s subscription should bill at `moment`: the
    priced meters of its enabled capabilities. A version's own meter (a version
    priced differently) only while the organization runs that version, so no
    one else's invoice carries an empty line for it; or when it has usage of
    this period and no item yet (`held`: the meters it has items for), e.g. a
    job queued on the version before a channel change finished after the
    item's sync. An item no longer wanted leaves at the period's end, billed."""
    enabled = enabled_in_database(organization)
    priced = {pair: version for pair, version in priced_meters(moment).items() if pair[0] in enabled}
    by_version = {
        (capability.key, meter.key): meter.version
        for capability in registry().billable()
        for meter in capability.version_meters
    }
    if not any(pair in by_version for pair in priced):
        return priced
    runs = releases.versions_in_database(organization)
    used = {
        (line.capability, line.meter)
        for line in usage_by_meter(organization_rollups(organization), billing_period(moment))
        if line.quantity
    }
    return {
        pair: version
        for pair, version in priced.items()
        if pair not in by_version
        or runs.get(pair[0]) == by_version[pair]
        or (pair in used and pair not in held)
    }


def ensure_meter(capability: str, meter: str, report: SyncReport | None = None) -> StripeMeter:
    """The Billing Meter and Product of a capability meter, created once."""
    name = event_name(capability, meter)
    row, _ = StripeMeter.objects.get_or_create(
        capability=capability, meter=meter, defaults={"event_name": name}
    )
    if not row.stripe_meter_id:
        declared = registry().get(capability)
        title = f"{declared.title}: {declared.meter(meter).unit}s"
        row.stripe_meter_id = gateway.find_meter(name) or gateway.create_meter(
            event_name=name, display_name=title
        )
        row.save(update_fields=["stripe_meter_id"])
        if report:
            report.meters_created += 1
    if not row.stripe_product_id:
        declared = registry().get(capability)
        row.stripe_product_id = gateway.create_product(
            key=f"{capability}.{meter}", name=f"{declared.title} ({declared.meter(meter).unit}s)"
        )
        row.save(update_fields=["stripe_product_id"])
    return row


def ensure_price(version: PriceVersion, report: SyncReport | None = None) -> str:
    """The Stripe Price of a price version, created once."""
    if version.stripe_price_id:
        return version.stripe_price_id
    meter = ensure_meter(version.capability, version.meter, report)
    version.stripe_price_id = gateway.create_price(
        version_id=version.pk,
        product=meter.stripe_product_id,
        meter=meter.stripe_meter_id,
        unit_price=version.unit_price,
        currency=version.currency,
        nickname=f"{version.capability}.{version.meter} v{version.version}",
    )
    version.save(update_fields=["stripe_price_id"])
    if report:
        report.prices_created += 1
    return version.stripe_price_id


def sync_prices(report: SyncReport | None = None, now: datetime | None = None) -> SyncReport:
    """Meters, products and prices for every priced meter, now and in the next period."""
    report = report or SyncReport()
    moment = now or timezone.now()
    price_book.ensure_defaults()
    wanted = list(priced_meters(moment).values()) + list(priced_meters(billing_period(moment).end).values())
    for version in wanted:
        ensure_price(version, report)
    return report


def _billing_email(organization: Organization) -> str:
    membership = (
        Membership.objects.filter(organization=organization, role__in=[Role.BILLING, Role.OWNER])
        .select_related("user")
        .order_by("role", "id")  # "billing" sorts before "owner"
        .first()
    )
    return membership.user.email if membership else ""


def ensure_customer(organization: Organization, report: SyncReport | None = None) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(organization=organization)
    if not account.stripe_customer_id:
        account.stripe_customer_id = gateway.create_customer(
            org_id=organization.pk, name=organization.name, email=_billing_email(organization)
        )
        account.save(update_fields=["stripe_customer_id"])
        if report:
            report.customers_created += 1
    return account


def customer_ids(organization_ids: set[int]) -> dict[int, str]:
    return dict(
        BillingAccount.objects.filter(organization_id__in=organization_ids)
        .exclude(stripe_customer_id="")
        .values_list("organization_id", "stripe_customer_id")
    )


def sync_organization(organization: Organization, now: datetime | None = None) -> SyncReport:
    """Make the organization's subscription items match its enabled, priced
    capability meters (see the module's note on removal)."""
    report = SyncReport()
    moment = now or timezone.now()
    account = BillingAccount.objects.filter(organization=organization).first()
    held = frozenset(account.items.values_list("capability", "meter")) if account else frozenset()
    wanted = subscribed_meters(organization, moment, held)
    if not wanted and (account is None or not account.stripe_subscription_id):
        return report  # nothing billable yet: no customer needed
    account = ensure_customer(organization, report)
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account.pk)
        items = {(item.capability, item.meter): item for item in account.items.select_related("price")}
        if not account.stripe_subscription_id:
            prices = {ensure_price(version, report): pair for pair, version in wanted.items()}
            created = gateway.create_subscription(
                org_id=organization.pk,
                customer=account.stripe_customer_id,
                prices=sorted(prices),
                start=billing_period(moment).start,
                anchor=billing_period(moment).end,
            )
            account.stripe_subscription_id = created.id
            account.subscription_status = created.status
            SubscriptionItem.objects.filter(account=account).delete()
            SubscriptionItem.objects.bulk_create(
                SubscriptionItem(
                    account=account,
                    capability=prices[price][0],
                    meter=prices[price][1],
                    price=wanted[prices[price]],
                    stripe_item_id=item_id,
                )
                for price, item_id in created.items.items()
            )
            report.subscriptions_created += 1
            report.items_added += len(created.items)
        else:
            _reconcile_items(account, items, wanted, moment, report)
        account.synced_at = timezone.now()
        account.save()
    return report


def _reconcile_items(
    account: BillingAccount,
    items: dict[tuple[str, str], SubscriptionItem],
    wanted: dict[tuple[str, str], PriceVersion],
    now: datetime,
    report: SyncReport,
) -> None:
    # Add before removing: Stripe refuses to take a subscription's last item away.
    for pair, version in wanted.items():
        item = items.get(pair)
        if item is None:
            price = ensure_price(version, report)
            item_id = gateway.add_subscription_item(subscription=account.stripe_subscription_id, price=price)
            items[pair] = SubscriptionItem.objects.create(
                account=account, capability=pair[0], meter=pair[1], price=version, stripe_item_id=item_id
            )
            report.items_added += 1
        elif item.price_id != version.pk:
            # A new price version took effect with this period: a new item on
            # the new Price, the old one removed.
            old_item_id = item.stripe_item_id
            item.stripe_item_id = gateway.add_subscription_item(
                subscription=account.stripe_subscription_id, price=ensure_price(version, report)
            )
            gateway.remove_subscription_item(old_item_id)
            item.price = version
            item.remove_after = None
            item.save()
        elif item.remove_after is not None:
            item.remove_after = None  # switched back on before the period ended
            item.save(update_fields=["remove_after"])
    leaving = [item for pair, item in items.items() if pair not in wanted]
    for item in leaving:
        if item.remove_after is None:
            item.remove_after = billing_period(now).end + REMOVAL_DELAY
            item.save(update_fields=["remove_after"])
    due = [item for item in leaving if item.remove_after is not None and item.remove_after <= now]
    if due and len(due) == len(items):
        # Nothing left to bill: the subscription ends (a new one starts when a
        # paid capability is switched on again).
        gateway.cancel_subscription(account.stripe_subscription_id)
        account.stripe_subscription_id = ""
        account.subscription_status = "canceled"
        SubscriptionItem.objects.filter(pk__in=[item.pk for item in due]).delete()
        report.items_removed += len(due)
        return
    for item in due:
        gateway.remove_subscription_item(item.stripe_item_id)
        item.delete()
        report.items_removed += 1


def sync_all(now: datetime | None = None) -> SyncReport:
    """Meters and prices, a Customer for every active organization, then the
    subscription of every organization with something to bill (or an existing
    subscription). Stops at the first sign Stripe is down."""
    report = sync_prices(now=now)
    # Every active organization has a Customer, billed or not yet.
    for organization in Organization.objects.filter(
        status=Organization.Status.ACTIVE, billing__isnull=True
    ).order_by("pk"):
        ensure_customer(organization, report)
    for account in BillingAccount.objects.filter(stripe_customer_id="").select_related("organization"):
        ensure_customer(account.organization, report)
    enabled_orgs = organizations_with_any_on()
    with_subscription = set(
        BillingAccount.objects.exclude(stripe_subscription_id="").values_list("organization_id", flat=True)
    )
    for organization in Organization.objects.filter(pk__in=enabled_orgs | with_subscription).order_by("pk"):
        try:
            one = sync_organization(organization, now=now)
        except gateway.Rejected as error:
            logger.warning("Stripe refused the sync of %s: %s", organization, error.message)
            report.errors.append(f"{organization.slug}: {error.message}")
            continue
        for name in ("customers_created", "subscriptions_created", "items_added", "items_removed"):
            setattr(report, name, getattr(report, name) + getattr(one, name))
        report.meters_created += one.meters_created
        report.prices_created += one.prices_created
    return report
