"""Finance's page of what Stripe told us: webhook events, meter error reports
and failed payments."""

from __future__ import annotations

from html import unescape

import pytest
from django.utils import timezone

from billing.models import BillingAccount, MeterErrorReport, WebhookEvent
from tests.billing.conftest import MANY, failed_payment
from tests.factories import OrganizationFactory
from tests.html import text

pytestmark = pytest.mark.django_db


# --- finance: what Stripe told us -------------------------------------------------------------


def test_stripe_events_page_empty_states(client_for, fiona):
    page = text(client_for(fiona).get("/finance/stripe-events/"))
    assert "No organization has a failed payment." in page
    assert "Stripe has reported no meter errors." in page
    assert "No Stripe events received yet." in page


def test_stripe_events_page_lists_events_errors_and_failed_payments(client_for, fiona, acme, globex):
    now = timezone.now()
    WebhookEvent.objects.create(
        stripe_event_id="evt_paid_1",
        type="invoice.paid",
        created=now,
        organization=acme,
        payload={},
        outcome="Invoice in_1 recorded: paid",
    )
    WebhookEvent.objects.create(
        stripe_event_id="evt_unknown_1", type="customer.created", created=now, payload={}, outcome="Ignored"
    )
    MeterErrorReport.objects.create(
        stripe_event_id="evt_meter_1",
        event_name="switchboard.ocr.pages",
        error_count=3,
        error_codes="meter_event_no_customer_defined",
        reported_at=now,
    )
    failed_payment(globex, restricted_at=now)
    BillingAccount.objects.create(organization=acme, stripe_customer_id="cus_ok")

    page = text(client_for(fiona).get("/finance/stripe-events/"))
    assert "No organization has a failed payment." not in page
    assert "<strong>Globex</strong>: invoice <code>in_failed_1</code> failed on" in page
    assert "restricted since" in page
    assert "<strong>Acme Corp</strong>" not in page  # in good standing
    assert "<code>switchboard.ocr.pages</code>: 3 events refused (meter_event_no_customer_defined)" in page
    assert (
        "<code>invoice.paid</code>" in page and "evt_paid_1" in page and "Invoice in_1 recorded: paid" in page
    )
    assert "<code>customer.created</code>" in page and "evt_unknown_1" in page
    assert "No Stripe events received yet." not in page


def test_the_events_page_costs_the_same_queries_whatever_the_events(
    client_for, fiona, django_assert_max_num_queries
):
    now = timezone.now()
    organizations = OrganizationFactory.create_batch(3)
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            stripe_event_id=f"evt_{number}",
            type="invoice.paid",
            created=now,
            organization=organizations[number % 3],
            payload={},
        )
        for number in range(MANY)
    )
    MeterErrorReport.objects.bulk_create(
        MeterErrorReport(stripe_event_id=f"evt_meter_{number}", reported_at=now) for number in range(MANY)
    )
    for organization in organizations:
        failed_payment(organization)
    client = client_for(fiona)
    with django_assert_max_num_queries(10):  # 8 today; a query per event would add 25
        response = client.get("/finance/stripe-events/")
    assert response.status_code == 200
    page = unescape(response.content.decode())
    assert all(organization.name in page for organization in organizations)
