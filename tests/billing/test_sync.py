"""Sync drives the real SDK against the emulator: a Billing Meter, Product and
metered Price per priced meter, a Customer per organization and one
subscription whose items follow its enabled capabilities; safe to re-run."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import actions as billing_actions
from billing import price_book, sync
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, PriceVersion, StripeMeter, SubscriptionItem
from capabilities import actions
from metering.periods import billing_period

pytestmark = pytest.mark.django_db


def _stripe_subscription(stripe, account: BillingAccount) -> dict:
    return gateway.client().v1.subscriptions.retrieve(account.stripe_subscription_id).to_dict()


def test_switching_on_creates_customer_meter_price_and_subscription(stripe, alice, acme, subscribed):
    subscribed(alice, acme)

    meter = StripeMeter.objects.get(capability="ocr", meter="pages")
    assert meter.event_name == "switchboard.ocr.pages"
    assert meter.stripe_meter_id.startswith("mtr_")
    version = PriceVersion.objects.get(capability="ocr", meter="pages", version=1)
    assert version.unit_price == Decimal("0.01")
    assert version.stripe_price_id.startswith("price_")
    price = gateway.client().v1.prices.retrieve(version.stripe_price_id).to_dict()
    assert price["recurring"]["usage_type"] == "metered"
    assert price["recurring"]["meter"] == meter.stripe_meter_id
    assert Decimal(price["unit_amount_decimal"]) == Decimal("1")  # one cent, in cents

    account = BillingAccount.objects.get(organization=acme)
    customer = gateway.client().v1.customers.retrieve(account.stripe_customer_id).to_dict()
    assert customer["metadata"]["org_id"] == str(acme.pk)
    subscription = _stripe_subscription(stripe, account)
    assert [item["price"]["id"] for item in subscription["items"]["data"]] == [version.stripe_price_id]
    assert (
        SubscriptionItem.objects.get(account=account).stripe_item_id == subscription["items"]["data"][0]["id"]
    )


def test_free_meters_are_not_billed(stripe, alice, acme, subscribed):
    subscribed(alice, acme)
    # ocr's API calls and compute seconds are free: no meter, no item.
    assert not StripeMeter.objects.filter(
        capability="ocr", meter__in=["api_calls", "compute_seconds"]
    ).exists()
    assert SubscriptionItem.objects.filter(account__organization=acme).count() == 1


def test_sync_is_idempotent(stripe, alice, acme, subscribed):
    subscribed(alice, acme)
    before = stripe.state()
    report = sync.sync_all()
    again = sync.sync_all()
    assert (report.items_added, report.customers_created, report.prices_created) == (0, 0, 0)
    assert (again.items_added, again.items_removed) == (0, 0)
    after = stripe.state()
    for counted in ("customers", "meters", "prices", "subscriptions"):
        assert after[counted] == before[counted], counted


def test_switched_off_item_stays_until_the_period_ends(stripe, alice, acme, subscribed):
    subscribed(alice, acme)
    account = BillingAccount.objects.get(organization=acme)
    actions.set_capability_enabled(alice, acme, "ocr", enabled=False)
    sync.sync_all()

    item = SubscriptionItem.objects.get(account=account)
    period_end = billing_period(timezone.now()).end
    assert item.remove_after == period_end + sync.REMOVAL_DELAY
    assert len(_stripe_subscription(stripe, account)["items"]["data"]) == 1  # still invoiced this period

    # Back on before the period ends: the item stays.
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    sync.sync_all()
    assert SubscriptionItem.objects.get(account=account).remove_after is None

    # Off again, and still off after the period: removed (the subscription ends
    # with its last item, as Stripe keeps no subscription without items).
    actions.set_capability_enabled(alice, acme, "ocr", enabled=False)
    sync.sync_all()
    sync.sync_all(now=period_end + timedelta(hours=2))
    account.refresh_from_db()
    assert not SubscriptionItem.objects.filter(account=account).exists()
    assert account.stripe_subscription_id == ""
    assert account.subscription_status == "canceled"


def test_item_of_another_capability_is_added_and_removed_alone(stripe, alice, acme, subscribed):
    subscribed(alice, acme)
    actions.set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    sync.sync_all()
    account = BillingAccount.objects.get(organization=acme)
    keys = set(SubscriptionItem.objects.filter(account=account).values_list("capability", flat=True))
    assert "summaries" in keys and "ocr" in keys
    assert (
        len(_stripe_subscription(stripe, account)["items"]["data"])
        == SubscriptionItem.objects.filter(account=account).count()
    )


def test_a_new_price_version_becomes_a_new_stripe_price_from_the_next_period(
    stripe, alice, acme, fiona, subscribed
):
    subscribed(alice, acme)
    old = PriceVersion.objects.get(capability="ocr", meter="pages", version=1)
    new = billing_actions.change_price(
        fiona, "ocr", "pages", Decimal("0.0125"), note="Cost of OCR engines went up"
    )
    assert new.version == 2 and new.effective_from == billing_period(timezone.now()).end

    sync.sync_all()
    new.refresh_from_db()
    assert new.stripe_price_id and new.stripe_price_id != old.stripe_price_id
    price = gateway.client().v1.prices.retrieve(new.stripe_price_id).to_dict()
    assert Decimal(price["unit_amount_decimal"]) == Decimal("1.25")
    account = BillingAccount.objects.get(organization=acme)
    assert SubscriptionItem.objects.get(account=account).price_id == old.pk  # this period: old price

    sync.sync_all(now=new.effective_from + timedelta(hours=2))
    item = SubscriptionItem.objects.get(account=account)
    assert item.price_id == new.pk
    prices = [entry["price"]["id"] for entry in _stripe_subscription(stripe, account)["items"]["data"]]
    assert prices == [new.stripe_price_id]
    # History is kept.
    assert list(
        PriceVersion.objects.filter(capability="ocr", meter="pages").values_list("version", flat=True)
    ) == [
        2,
        1,
    ]


def test_price_changes_are_validated(fiona, bob):
    with pytest.raises(actions.ActionError, match="finance"):
        billing_actions.change_price(bob, "ocr", "pages", Decimal("1"), note="x")
    with pytest.raises(actions.ActionError, match="decimal places"):
        billing_actions.change_price(fiona, "ocr", "pages", Decimal("0.00000000001"), note="x")
    with pytest.raises(actions.ActionError, match="zero or more"):
        billing_actions.change_price(fiona, "ocr", "pages", Decimal("-1"), note="x")
    with pytest.raises(actions.ActionError, match="future billing period"):
        billing_actions.change_price(
            fiona, "ocr", "pages", Decimal("1"), note="x", effective_from=billing_period(timezone.now()).start
        )
    with pytest.raises(actions.ActionError, match="no meter"):
        billing_actions.change_price(fiona, "ocr", "nope", Decimal("1"), note="x")


def test_usage_pages_price_with_the_price_book(fiona):
    from metering import meter_prices

    price_book.ensure_defaults()
    assert meter_prices.describe("ocr", "pages").unit_price == Decimal("0.01")
    version = PriceVersion.objects.get(capability="ocr", meter="pages", version=1)
    PriceVersion.objects.filter(pk=version.pk).update(unit_price=Decimal("0.02"))
    price_book.forget_cached_prices()
    assert meter_prices.describe("ocr", "pages").unit_price == Decimal("0.02")


def test_nothing_is_sent_without_a_key(settings, alice, acme):
    settings.STRIPE_SECRET_KEY = ""
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    with pytest.raises(gateway.NotConfigured):
        sync.sync_all()


def test_every_active_organization_gets_a_customer_but_no_empty_subscription(stripe, acme, globex):
    globex.status = globex.Status.SUSPENDED
    globex.save()
    report = sync.sync_all()
    assert report.customers_created == 1
    account = BillingAccount.objects.get(organization=acme)
    assert account.stripe_customer_id.startswith("cus_")
    assert account.stripe_subscription_id == ""
    assert not BillingAccount.objects.filter(organization=globex).exists()
    assert sync.sync_all().customers_created == 0
