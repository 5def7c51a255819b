"""Webhooks never answer 500: a validly signed event with a field we can't use
is stored as unusable with the reason and answered 200 (a body that isn't a
JSON object gets 400), changing nothing else; a signature dated past the
tolerance in the future is refused like an old one. Events are signed with
the SDK's own helper, the way Stripe signs them."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe as stripe_sdk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import BillingAccount, Invoice, MeterErrorReport, WebhookEvent
from tests.billing.conftest import WEBHOOK_SECRET

URL = "/billing/stripe/webhook/"
_ids = itertools.count(1)


def post_signed(client, body: str, *, at: int | None = None):  # type: ignore[no-untyped-def]
    header = stripe_sdk.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET, timestamp=at)
    return client.post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def event(kind: str, obj: Any, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"evt_shape_{next(_ids)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": obj},
        **fields,
    }


def invoice(customer: str, **fields: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": "in_shape_1",
        "object": "invoice",
        "customer": customer,
        "status": "open",
        "number": "SB-0001",
        "currency": "usd",
        "period_start": now - 86400 * 30,
        "period_end": now,
        "total": 1234,
        "amount_due": 1234,
        "amount_paid": 0,
        "amount_remaining": 1234,
        "attempt_count": 1,
        **fields,
    }


def subscription(account: BillingAccount, **fields: Any) -> dict[str, Any]:
    return {
        "id": account.stripe_subscription_id,
        "object": "subscription",
        "customer": account.stripe_customer_id,
        "status": "past_due",
        **fields,
    }


def meter_error(**fields: Any) -> dict[str, Any]:
    return {
        "id": "mtr_1",
        "object": "billing.meter",
        "event_name": "switchboard.ocr.pages",
        "reason": {"error_count": 3, "error_types": [{"code": "meter_event_customer_not_found"}]},
        **fields,
    }


@pytest.fixture
def account(stripe, alice, acme, subscribed) -> BillingAccount:
    subscribed(alice, acme)
    return BillingAccount.objects.get(organization=acme)


def unchanged(account: BillingAccount) -> None:
    """Nothing but the event row was written."""
    before = (account.payment_status, account.subscription_status)
    account.refresh_from_db()
    assert (account.payment_status, account.subscription_status) == before
    assert not Invoice.objects.exists() and not MeterErrorReport.objects.exists()


SHAPES = {
    "data.object a string": lambda c: event("invoice.paid", "in_123"),
    "invoice without id": lambda c: event("invoice.paid", {k: v for k, v in invoice(c).items() if k != "id"}),
    "total lots": lambda c: event("invoice.finalized", invoice(c, total="lots")),
    "created yesterday": lambda c: event("invoice.paid", invoice(c), created="yesterday"),
    "period_start 10**15": lambda c: event("invoice.finalized", invoice(c, period_start=10**15)),
    "meter error reason a string": lambda c: event(
        "billing.meter.error_report_triggered", meter_error(reason="too many")
    ),
    "attempt_count two": lambda c: event("invoice.payment_failed", invoice(c, attempt_count="two")),
}


@pytest.mark.django_db
@pytest.mark.parametrize("shape", SHAPES)
def test_a_signed_event_we_cannot_use_is_stored_as_unusable(client, account, shape):
    sent = SHAPES[shape](account.stripe_customer_id)
    response = post_signed(client, json.dumps(sent))
    assert response.status_code == 200
    assert response.json()["status"] == "unusable"
    row = WebhookEvent.objects.get(stripe_event_id=sent["id"])
    assert row.status == WebhookEvent.Status.UNUSABLE
    assert row.outcome.startswith("Unusable: ") and len(row.outcome) > len("Unusable: ")
    assert row.payload == sent
    unchanged(account)
    # A redelivery is recognised like any other event.
    again = post_signed(client, json.dumps(sent))
    assert (again.status_code, again.json()["processed"]) == (200, False)


@pytest.mark.django_db
def test_the_reason_names_the_field(client, account):
    sent = event("invoice.finalized", invoice(account.stripe_customer_id, total="lots"))
    post_signed(client, json.dumps(sent))
    assert WebhookEvent.objects.get().outcome == "Unusable: total is not a whole number."


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", ["[1,2,3]", '"evt"', "42", "null", '{"id": "evt_nan", "type": "x", "n": NaN}']
)
def test_a_signed_body_that_is_not_a_json_object_gets_400(client, stripe, body):
    response = post_signed(client, body)
    assert response.status_code == 400
    assert "not a Stripe event" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_usable_event_beside_the_unusable_ones_still_applies(client, account):
    sent = event("invoice.finalized", invoice(account.stripe_customer_id))
    response = post_signed(client, json.dumps(sent))
    assert response.json()["status"] == "processed"
    assert (Invoice.objects.get().total, WebhookEvent.objects.get().status) == (1234, "processed")


@pytest.mark.django_db
@pytest.mark.parametrize("offset", [-3600, -600, 600, 3600])
def test_a_signature_dated_past_the_tolerance_either_way_is_refused(client, account, offset):
    sent = event("invoice.finalized", invoice(account.stripe_customer_id))
    response = post_signed(client, json.dumps(sent), at=int(time.time()) + offset)
    assert response.status_code == 400
    assert "does not verify" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_signature_a_little_ahead_of_our_clock_is_accepted(client, account):
    sent = event("invoice.finalized", invoice(account.stripe_customer_id))
    assert post_signed(client, json.dumps(sent), at=int(time.time()) + 30).status_code == 200


# --- fuzz: odd shapes in every field of every event type we handle --------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=400),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)

HANDLED: dict[str, Callable[[BillingAccount], dict[str, Any]]] = {
    "invoice.paid": lambda a: invoice(a.stripe_customer_id, status="paid"),
    "invoice.finalized": lambda a: invoice(a.stripe_customer_id),
    "invoice.payment_failed": lambda a: invoice(a.stripe_customer_id),
    "customer.subscription.updated": subscription,
    "customer.subscription.deleted": subscription,
    "billing.meter.error_report_triggered": lambda a: meter_error(),
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", HANDLED)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_odd_shapes_never_answer_500_and_are_stored(client, account, kind, data):
    obj = HANDLED[kind](account)
    sent = event(kind, obj)
    where = data.draw(st.sampled_from(["object field", "new field", "object", "data", "created"]))
    odd = data.draw(json_values)
    if where == "object field":
        obj[data.draw(st.sampled_from(sorted(obj)))] = odd
    elif where == "new field":
        obj["reason" if kind.startswith("billing.") else "customer"] = {"id": odd, "error_count": odd}
    elif where == "object":
        sent["data"]["object"] = odd
    else:
        sent[where] = odd
    response = post_signed(client, json.dumps(sent))
    assert response.status_code == 200, response.content
    row = WebhookEvent.objects.get(stripe_event_id=sent["id"])
    assert row.status in {WebhookEvent.Status.PROCESSED, WebhookEvent.Status.UNUSABLE}
    assert response.json()["status"] == row.status
