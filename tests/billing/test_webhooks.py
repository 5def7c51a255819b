"""Webhooks at /billing/stripe/webhook/: the signature is verified with the SDK
(bad: 400, nothing recorded), each event is processed once, delivery order is
not trusted; invoices, subscriptions and meter error reports are recorded; a
failed payment shows a banner and, after the grace period, restricts paid
capabilities until the invoice is paid. The emulator closes a period and
delivers its signed events to a live server."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from billing import actions as billing_actions
from billing import push, sync, webhooks
from billing.models import BillingAccount, Invoice, MeterErrorReport, WebhookEvent
from capabilities import actions, is_enabled
from capabilities.models import FeatureToggle
from metering.periods import billing_period
from tests.billing.conftest import WEBHOOK_SECRET
from tests.workers import wait_for

URL = "/billing/stripe/webhook/"


def signed(payload: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    """Headers as Stripe signs them: t=<time>,v1=HMAC-SHA256(secret, "<t>.<body>")."""
    body = json.dumps(payload)
    stamp = at or int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "data": body,
        "content_type": "application/json",
        "HTTP_STRIPE_SIGNATURE": f"t={stamp},v1={signature}",
    }


def invoice_event(
    event_id: str,
    kind: str,
    customer: str,
    *,
    status: str,
    created: int,
    attempt_count: int = 0,
    total: int = 1234,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "data": {
            "object": {
                "id": "in_test_1",
                "object": "invoice",
                "customer": customer,
                "status": status,
                "number": "SB-0001",
                "currency": "usd",
                "period_start": created - 86400 * 30,
                "period_end": created,
                "total": total,
                "amount_due": total,
                "amount_paid": total if status == "paid" else 0,
                "amount_remaining": 0 if status == "paid" else total,
                "attempt_count": attempt_count,
                "hosted_invoice_url": "https://invoice.stripe.test/i/in_test_1",
            }
        },
    }


@pytest.mark.django_db
def test_bad_signature_is_refused_and_nothing_recorded(client, stripe, account):
    event = invoice_event("evt_1", "invoice.paid", account.stripe_customer_id, status="paid", created=1)
    response = client.post(URL, **signed(event, secret="whsec_wrong"))
    assert response.status_code == 400
    assert "does not verify" in response.json()["error"]
    unsigned = client.post(URL, data=json.dumps(event), content_type="application/json")
    assert unsigned.status_code == 400
    stale = client.post(URL, **signed(event, at=int(time.time()) - 3600))  # outside the SDK's tolerance
    assert stale.status_code == 400
    assert not WebhookEvent.objects.exists() and not Invoice.objects.exists()


@pytest.mark.django_db
def test_garbage_with_a_valid_signature_is_refused(client, stripe):
    body = "not json at all"
    stamp = int(time.time())
    signature = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=f"t={stamp},v1={signature}"
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_the_same_event_twice_is_processed_once(client, stripe, account):
    now = int(time.time())
    event = invoice_event(
        "evt_2", "invoice.finalized", account.stripe_customer_id, status="open", created=now
    )
    first = client.post(URL, **signed(event))
    second = client.post(URL, **signed(event))
    assert first.status_code == second.status_code == 200
    assert (first.json()["processed"], second.json()["processed"]) == (True, False)
    assert WebhookEvent.objects.count() == 1
    invoice = Invoice.objects.get()
    assert (invoice.status, invoice.total, invoice.organization_id) == ("open", 1234, account.organization_id)


@pytest.mark.django_db
def test_an_older_event_arriving_late_changes_nothing(client, stripe, account):
    now = int(time.time())
    paid = invoice_event("evt_paid", "invoice.paid", account.stripe_customer_id, status="paid", created=now)
    finalized = invoice_event(
        "evt_fin", "invoice.finalized", account.stripe_customer_id, status="open", created=now - 60
    )
    client.post(URL, **signed(paid))
    response = client.post(URL, **signed(finalized))
    assert "not applied" in response.json()["outcome"]
    assert Invoice.objects.get().status == "paid"


@pytest.mark.django_db
def test_failed_payment_banner_grace_restriction_and_recovery(
    client, client_for, stripe, account, alice, acme, carol, bob, django_capture_on_commit_callbacks
):
    now = int(time.time())
    failed = invoice_event(
        "evt_fail",
        "invoice.payment_failed",
        account.stripe_customer_id,
        status="open",
        created=now,
        attempt_count=1,
    )
    assert client.post(URL, **signed(failed)).status_code == 200
    account.refresh_from_db()
    assert account.payment_status == BillingAccount.Payment.FAILED

    for person in (alice, carol):
        page = client_for(person).get("/").content.decode()
        assert "Your last payment failed" in page
    assert (
        "payment failed" not in client_for(bob).get("/").content.decode().lower()
    )  # members don't handle billing

    # Within the grace period nothing is restricted; after it, paid capabilities are.
    assert billing_actions.enforce_grace() == []
    assert billing_actions.enforce_grace(now=timezone.now() + timedelta(days=8)) == [acme.pk]
    toggle = FeatureToggle.objects.get(organization=acme, capability_key="ocr")
    assert (toggle.enabled, toggle.locked) == (False, True)
    assert "Payment overdue" in toggle.locked_reason
    assert "paused" in client_for(alice).get("/billing/").content.decode()
    with pytest.raises(actions.CapabilityLocked):
        actions.set_capability_enabled(alice, acme, "ocr", enabled=True)

    # Paid: standing restored and the capability back on, unlocked.
    paid = invoice_event(
        "evt_paid2", "invoice.paid", account.stripe_customer_id, status="paid", created=now + 5
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL, **signed(paid)).status_code == 200
    account.refresh_from_db()
    assert account.payment_status == BillingAccount.Payment.OK and account.restricted_at is None
    toggle.refresh_from_db()
    assert (toggle.enabled, toggle.locked) == (True, False)
    assert is_enabled(acme, "ocr")


@pytest.mark.django_db
def test_subscription_and_meter_error_events_are_recorded(client, stripe, account):
    now = int(time.time())
    updated = {
        "id": "evt_sub",
        "object": "event",
        "type": "customer.subscription.updated",
        "created": now,
        "data": {
            "object": {
                "id": account.stripe_subscription_id,
                "object": "subscription",
                "customer": account.stripe_customer_id,
                "status": "past_due",
            }
        },
    }
    client.post(URL, **signed(updated))
    account.refresh_from_db()
    assert account.subscription_status == "past_due"
    error = {
        "id": "evt_meter",
        "object": "event",
        "type": "billing.meter.error_report_triggered",
        "created": now,
        "data": {
            "object": {
                "id": "mtr_1",
                "object": "billing.meter",
                "event_name": "switchboard.ocr.pages",
                "reason": {"error_count": 3, "error_types": [{"code": "meter_event_customer_not_found"}]},
            }
        },
    }
    client.post(URL, **signed(error))
    report = MeterErrorReport.objects.get()
    assert (report.error_count, report.error_codes) == (3, "meter_event_customer_not_found")


@pytest.mark.django_db
def test_webhooks_unconfigured_answer_503(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = client.post(URL, data="{}", content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=x")
    assert response.status_code == 503


@pytest.mark.django_db(transaction=True)
def test_period_close_invoice_arrives_by_signed_webhook(
    live_server, stripe, alice, acme, django_capture_on_commit_callbacks, record_usage, hour_ago
):
    """The emulator closes the period, draws up the invoice from the pushed
    usage and delivers signed events to the portal's webhook."""
    stripe.config(webhook_url=f"{live_server.url}{URL}", webhook_secret=WEBHOOK_SECRET)
    with django_capture_on_commit_callbacks(execute=False):
        actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    sync.sync_all()
    record_usage(acme, 1234, at=hour_ago(3))
    push.plan()
    assert push.send().sent == 1

    period_end = billing_period(timezone.now()).end
    stripe.advance(period_end.timestamp() - time.time() + 120)
    wait_for(
        lambda: Invoice.objects.filter(organization=acme, status="paid").exists(), 30, "the paid invoice"
    )
    invoice = Invoice.objects.get(organization=acme)
    assert invoice.total == 1234  # 1,234 pages at one cent
    assert invoice.hosted_invoice_url
    types = set(WebhookEvent.objects.values_list("type", flat=True))
    assert {"invoice.created", "invoice.finalized", "invoice.paid"} <= types


@pytest.mark.django_db
def test_events_no_webhook_brought_are_caught_up_from_the_events_api(
    stripe, gina, globex, subscribed, record_usage, hour_ago
):
    """The endpoint was unreachable (no webhook URL): the period's invoice and
    its failed payment are read from the Events API, applied once, and a late
    webhook of the same event changes nothing."""
    subscribed(gina, globex)
    account = BillingAccount.objects.get(organization=globex)
    stripe.fail_payments(account.stripe_customer_id)
    record_usage(globex, 500, at=hour_ago(3))
    push.plan()
    assert push.send().sent == 1
    since = timezone.now() - timedelta(minutes=1)
    stripe.advance(billing_period(timezone.now()).end.timestamp() - time.time() + 120)
    assert not Invoice.objects.exists()

    applied = webhooks.catch_up(since)
    assert applied == WebhookEvent.objects.count() >= 4  # created, finalized, payment_failed, subscription
    invoice = Invoice.objects.get(organization=globex)
    assert (invoice.status, invoice.total, invoice.attempt_count) == ("open", 500, 1)
    account.refresh_from_db()
    assert account.payment_status == BillingAccount.Payment.FAILED
    assert account.payment_failed_invoice == invoice.stripe_invoice_id
    assert webhooks.catch_up(since) == 0
