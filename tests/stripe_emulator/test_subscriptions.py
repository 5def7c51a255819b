"""Subscriptions, period closes on the emulator clock, invoices, the preview, and signed webhooks."""

import calendar
from datetime import UTC, datetime

import pytest
import stripe

from stripe_emulator.subscriptions import line_amount
from tests.stripe_emulator.conftest import WEBHOOK_SECRET
from tests.stripe_emulator.helpers import create_metered, make_client, send


@pytest.mark.parametrize(
    ("quantity", "unit", "cents"),
    [
        (1234, "1.25", 1543),
        (3, "0.5", 2),
        (1, "0.5", 1),
        (100, "0.0125", 1),
        (7, "0.000000000001", 0),
        (0, "9", 0),
    ],
)
def test_line_amount_rounds_half_up_in_decimal(quantity, unit, cents):
    assert line_amount(quantity, unit) == cents


def test_subscription_period_is_a_calendar_month_on_the_item(client, emulator):
    setup = create_metered(client)
    now = datetime.fromtimestamp(emulator.now(), UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    item = setup.subscription["items"].data[0]
    assert item.current_period_end == calendar.timegm((year, month, 1, 0, 0, 0))
    assert item.current_period_start <= emulator.now()
    assert setup.subscription.status == "active"


def test_period_close_invoices_the_usage_and_signs_webhooks(client, emulator, receiver):
    anchor = emulator.now() + 3600
    setup = create_metered(client, anchor=anchor)
    send(client, setup, "1000", "a")
    send(client, setup, "234", "b")
    result = emulator.advance(3601)
    assert len(result["invoices"]) == 1

    invoice = client.v1.invoices.retrieve(result["invoices"][0])
    assert invoice.status == "paid"
    assert (invoice.total, invoice.amount_due, invoice.amount_paid, invoice.amount_remaining) == (
        1543,
        1543,
        1543,
        0,
    )
    assert invoice.lines.data[0].quantity == 1234
    assert invoice.parent.subscription_details.subscription == setup.subscription.id
    # The period runs from the subscription's creation to the anchor. A busy machine can let a
    # second pass between reading the clock and creating it, so compare with what Stripe recorded.
    assert invoice.period_start == setup.subscription["items"].data[0].current_period_start
    assert invoice.period_end == anchor
    assert invoice.number.endswith("-0001")

    subscription = client.v1.subscriptions.retrieve(setup.subscription.id)
    assert subscription.latest_invoice == invoice.id
    assert subscription["items"].data[0].current_period_start == invoice.period_end

    attempts = emulator.webhooks(wait=10)
    assert all(a["succeeded"] for a in attempts)
    events = [
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], WEBHOOK_SECRET)
        for headers, body in receiver.deliveries
    ]
    types = [event.type for event in events]
    assert types == [
        "customer.created",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "customer.subscription.updated",
    ]
    assert events[4].data.object.id == invoice.id
    assert events[4].api_version == "2026-10-28.endive"
    assert (
        make_client(emulator)
        .construct_event(
            receiver.deliveries[0][1], receiver.deliveries[0][0]["Stripe-Signature"], WEBHOOK_SECRET
        )
        .type
        == "customer.created"
    )


def test_tampered_webhook_fails_verification(client, emulator, receiver):
    client.v1.customers.create(params={"name": "x"})
    emulator.webhooks(wait=10)
    headers, body = receiver.deliveries[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace("x", "y"), headers["Stripe-Signature"], WEBHOOK_SECRET)


def test_hosted_invoice_page_is_served(client, emulator):
    import urllib.request

    setup = create_metered(client, anchor=emulator.now() + 60)
    send(client, setup, "10", "a")
    invoice_id = emulator.advance(61)["invoices"][0]
    invoice = client.v1.invoices.retrieve(invoice_id)
    with urllib.request.urlopen(invoice.hosted_invoice_url, timeout=5) as response:
        page = response.read().decode()
    assert invoice.number in page and "13" in page


def test_failed_payment_leaves_the_invoice_open(client, emulator):
    setup = create_metered(client, anchor=emulator.now() + 600)
    emulator.fail_payments(setup.customer.id)
    send(client, setup, "100", "a")
    invoice_id = emulator.advance(601)["invoices"][0]
    invoice = client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.attempt_count, invoice.amount_remaining) == ("open", 1, 125)
    assert client.v1.subscriptions.retrieve(setup.subscription.id).status == "past_due"
    failed = client.v1.events.list(params={"type": "invoice.payment_failed"}).data
    assert [e.data.object.id for e in failed] == [invoice_id]

    emulator.fail_payments(setup.customer.id, fail=False)
    assert emulator.pay_invoice(invoice_id)["status"] == "paid"
    assert client.v1.subscriptions.retrieve(setup.subscription.id).status == "active"


def test_global_payment_failure_switch(client, emulator):
    setup = create_metered(client, anchor=emulator.now() + 600)
    emulator.config(fail_payments=True)
    send(client, setup, "8", "a")
    invoice_id = emulator.advance(601)["invoices"][0]
    assert client.v1.invoices.list(params={"status": "open"}).data[0].id == invoice_id


def test_preview_shows_usage_so_far_after_the_consistency_delay(client, emulator):
    setup = create_metered(client, unit_amount_decimal="0.0125")
    emulator.config(summary_delay_seconds=30)
    send(client, setup, "1234", "a")
    preview = client.v1.invoices.create_preview(params={"customer": setup.customer.id})
    assert preview.total == 0
    emulator.advance(31)
    preview = client.v1.invoices.create_preview(params={"subscription": setup.subscription.id})
    assert preview.id.startswith("upcoming_")
    assert preview.lines.data[0].quantity == 1234
    assert preview.total == 15  # 1234 x 0.0125 = 15.425 cents -> 15
    assert client.v1.invoices.list(params={"customer": setup.customer.id}).data == []


def test_webhook_failures_are_retried_and_recorded(client, emulator, receiver):
    receiver.statuses.extend([500])
    customer = client.v1.customers.create(params={"name": "x"})
    attempts = emulator.webhooks(wait=10)
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 500), (2, 200)]
    event_id = attempts[0]["event_id"]
    assert client.v1.events.retrieve(event_id).data.object.id == customer.id

    emulator.resend(event_id)
    emulator.webhooks(wait=10)
    assert [b.count(event_id) > 0 for _, b in receiver.deliveries] == [True, True, True]


def test_duplicate_price_on_a_subscription_is_refused(client):
    setup = create_metered(client)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create(
            params={
                "customer": setup.customer.id,
                "items": [{"price": setup.price.id}, {"price": setup.price.id}],
            }
        )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_items.create(
            params={"subscription": setup.subscription.id, "price": setup.price.id}
        )


def test_last_subscription_item_cannot_be_deleted(client):
    setup = create_metered(client)
    only = setup.subscription["items"].data[0]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_items.delete(only.id)

    meter = client.v1.billing.meters.create(
        params={"display_name": "Minutes", "event_name": "minutes", "default_aggregation": {"formula": "sum"}}
    )
    price = client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": "2",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            "product_data": {"name": "Minutes"},
        }
    )
    second = client.v1.subscription_items.create(
        params={"subscription": setup.subscription.id, "price": price.id}
    )
    listed = client.v1.subscription_items.list(params={"subscription": setup.subscription.id})
    assert {i.id for i in listed.data} == {only.id, second.id}
    deleted = client.v1.subscription_items.delete(only.id)
    assert (deleted.id, deleted.deleted) == (only.id, True)


def test_cancel_subscription_emits_deleted(client, emulator):
    setup = create_metered(client)
    canceled = client.v1.subscriptions.cancel(setup.subscription.id)
    assert canceled.status == "canceled"
    events = client.v1.events.list(params={"type": "customer.subscription.deleted"}).data
    assert [e.data.object.id for e in events] == [setup.subscription.id]
    assert emulator.advance(40 * 86400)["invoices"] == []


def test_the_clock_goes_back_only_while_the_emulator_is_empty(client, emulator):
    """A history can be replayed from its start: an empty emulator's clock moves back 60
    days, takes usage stamped then (over 35 days before the real clock) and invoices it as
    the clock comes forward; once it holds anything, the clock never goes back."""
    present = emulator.now()
    sixty_days_ago = present - 60 * 86400
    assert emulator.set_clock(sixty_days_ago)["now"] == pytest.approx(sixty_days_ago, abs=2)

    setup = create_metered(client)
    send(client, setup, "40", "old-usage", timestamp=str(emulator.now()))
    with pytest.raises(RuntimeError, match="cannot go backwards once it holds objects"):
        emulator.set_clock(sixty_days_ago - 86400)

    invoices = emulator.set_clock(present)["invoices"]
    assert len(invoices) == 2  # the two month ends between then and now
    first = client.v1.invoices.retrieve(invoices[0])
    assert (first.status, first.lines.data[0].quantity) == ("paid", 40)


def test_a_reset_emulator_may_go_back_again(emulator):
    emulator.advance(3600)
    emulator.reset()
    back = emulator.now() - 10 * 86400
    assert emulator.set_clock(back)["now"] == pytest.approx(back, abs=2)
