"""The organization's billing page (owners, admins, billing): Stripe's upcoming
invoice beside our estimate, the invoices, and the failed-payment banner."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from billing import push, standing
from billing.models import BillingAccount, Invoice
from capabilities import actions
from tests.billing.conftest import MANY, failed_payment
from tests.html import text

pytestmark = pytest.mark.django_db


def rows_with(html: str, css_class: str) -> list[str]:
    """The table rows (`<tr ...>...</tr>`) whose class attribute includes `css_class`."""
    return [
        row
        for row in re.findall(r"<tr\b[^>]*>.*?</tr>", html, flags=re.S)
        if re.search(rf'<tr\b[^>]*class="[^"]*\b{css_class}\b', row)
    ]


# --- the organization's billing page --------------------------------------------------------


@pytest.mark.parametrize("person", ["alice", "carol"])
def test_owner_and_billing_see_the_billing_page(stripe, client_for, cast, person):
    response = client_for(cast[person]).get("/billing/")
    assert response.status_code == 200
    page = text(response)
    assert "<h1>Billing</h1>" in page
    assert "Stripe's upcoming invoice" in page
    assert "<h2>Invoices</h2>" in page
    assert "No invoices yet: the first one is drawn up when the current billing period ends." in page
    # No subscription yet: said plainly, and nothing billed.
    assert "No subscription on Stripe yet" in page
    assert "Nothing billed yet this period" in page
    assert 'href="/billing/"' in page  # in the sidebar


def test_a_member_gets_403_and_no_billing_link(client_for, bob, alice):
    client = client_for(bob)
    assert client.get("/billing/").status_code == 403
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/billing/"' not in home.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/billing/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_compares_our_estimate_with_stripes_preview(
    stripe, client_for, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    record_usage(acme, 300, at=hour_ago(3))  # 300 pages at $0.01
    push.plan()
    assert push.send().sent == 1

    response = client_for(alice).get("/billing/")
    assert response.status_code == 200
    html = response.content.decode()
    page = text(response)
    assert re.search(r'id="local-total">\$3\.00<', html)
    assert re.search(r'id="stripe-total">\$3\.00<', html)
    assert "Matches our estimate" in page
    assert "Differs by" not in page
    assert rows_with(html, "row-diff") == []
    # The line: our quantity and amount, Stripe's quantity and amount.
    [row] = [
        row for row in re.findall(r"<tr\b[^>]*>.*?</tr>", html, flags=re.S) if "<code>pages</code>" in row
    ]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
    assert cells[2:6] == ["300", "$3.00", "300", "$3.00"]


def test_the_page_says_when_usage_reaches_stripe_by_how_the_push_runs(
    stripe, client_for, alice, acme, subscribed, settings
):
    subscribed(alice, acme)
    assert "a few minutes after each hour closes" in text(client_for(alice).get("/billing/"))
    # The quickstart pushes the hour in progress too.
    settings.BILLING_PUSH_OPEN_HOUR = True
    page = text(client_for(alice).get("/billing/"))
    assert "every half minute or so, as it is recorded" in page
    assert "after each hour closes" not in page


def test_usage_not_pushed_yet_shows_as_a_difference(
    stripe, client_for, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    record_usage(acme, 300, at=hour_ago(3))
    push.plan()
    push.send()
    record_usage(acme, 150, at=hour_ago(2))  # recorded, not pushed yet

    response = client_for(alice).get("/billing/")
    html = response.content.decode()
    page = text(response)
    assert re.search(r'id="local-total">\$4\.50<', html)
    assert re.search(r'id="stripe-total">\$3\.00<', html)
    assert "Differs by -$1.50" in page
    [row] = rows_with(html, "row-diff")
    assert "<code>pages</code>" in row
    cells = [" ".join(cell.split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
    assert cells[2:] == ["450", "$4.50", "300", "$3.00", "-$1.50"]


def test_with_stripe_unconfigured_the_page_still_renders(
    stripe, settings, client_for, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    record_usage(acme, 300, at=hour_ago(3))
    settings.STRIPE_SECRET_KEY = ""

    response = client_for(alice).get("/billing/")
    assert response.status_code == 200
    html = response.content.decode()
    page = text(response)
    assert "Stripe is not configured yet, so there is no invoice preview" in page
    assert re.search(r'id="local-total">\$3\.00<', html)  # our estimate still shows
    assert re.search(r'id="stripe-total">—<', html)
    assert "Not available" in page


def test_without_stripe_ever_configured_the_page_says_so_and_still_estimates(
    settings, client_for, alice, acme, record_usage, django_capture_on_commit_callbacks, hour_ago
):
    settings.STRIPE_SECRET_KEY = ""
    with django_capture_on_commit_callbacks(execute=True):
        actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    record_usage(acme, 300, at=hour_ago(3))

    response = client_for(alice).get("/billing/")
    assert response.status_code == 200
    page = text(response)
    assert "not configured" in page.lower()
    assert re.search(r'id="local-total">\$3\.00<', response.content.decode())


def test_with_stripe_down_the_page_still_renders(
    stripe, client_for, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    record_usage(acme, 300, at=hour_ago(3))
    stripe.config(down=True)

    response = client_for(alice).get("/billing/")
    assert response.status_code == 200
    page = text(response)
    assert "Stripe's preview is unavailable right now" in page
    assert "$3.00" in page


def test_stored_invoices_show_with_status_period_amount_and_link(client_for, alice, acme, globex):
    now = timezone.now()
    Invoice.objects.create(
        organization=acme,
        stripe_invoice_id="in_paid",
        number="SWB-0001",
        status="paid",
        period_start=now.replace(year=2026, month=9, day=1),
        period_end=now.replace(year=2026, month=10, day=1),
        total=123456,
        amount_paid=123456,
        hosted_invoice_url="https://invoice.stripe.test/i/in_paid",
        event_at=now,
    )
    Invoice.objects.create(
        organization=acme,
        stripe_invoice_id="in_failed",
        number="SWB-0002",
        status="open",
        attempt_count=1,
        period_start=now.replace(year=2026, month=10, day=1),
        period_end=now.replace(year=2026, month=11, day=1),
        total=4200,
        amount_due=4200,
        amount_remaining=4200,
        event_at=now,
    )
    Invoice.objects.create(
        organization=globex, stripe_invoice_id="in_globex", number="GLX-1", status="paid", event_at=now
    )

    response = client_for(alice).get("/billing/")
    html = response.content.decode()
    page = text(response)
    assert "No invoices yet" not in page
    assert "GLX-1" not in page  # another organization's invoice
    rows = {
        number: " ".join(row.split())
        for row in re.findall(r"<tr\b[^>]*>.*?</tr>", html, flags=re.S)
        for number in ("SWB-0001", "SWB-0002")
        if number in row
    }
    paid, failed = rows["SWB-0001"], rows["SWB-0002"]
    assert "Paid" in paid and "01 Sep 2026 \u2013 01 Oct 2026" in paid and "$1,234.56" in paid
    assert (
        '<a href="https://invoice.stripe.test/i/in_paid" rel="noopener" target="_blank">View on Stripe</a>'
        in paid
    )
    assert "Payment failed" in failed and "$42.00" in failed
    assert "View on Stripe" not in failed  # no hosted page known
    # Newest period first.
    assert html.index("SWB-0002") < html.index("SWB-0001")


def test_a_failed_payment_shows_the_banner_to_owner_and_billing_only(client_for, alice, bob, carol, acme):
    failed_payment(acme)
    for person in (alice, carol):
        for url in ("/", "/billing/"):
            page = text(client_for(person).get(url))
            assert "payment-banner" in page, (person, url)
            assert "Your last payment failed." in page
    due = standing.restriction_due(BillingAccount.objects.get(organization=acme))
    assert f"before {due:%-d %b %Y}" in text(client_for(alice).get("/"))
    billing_page = text(client_for(alice).get("/billing/"))
    assert '<span class="badge badge-bad">Payment failed</span>' in billing_page

    bobs_home = client_for(bob).get("/")
    assert bobs_home.status_code == 200
    assert "payment-banner" not in bobs_home.content.decode()
    assert "Your last payment failed" not in bobs_home.content.decode()


def test_a_restricted_account_says_capabilities_are_paused(client_for, alice, acme):
    failed_payment(acme, restricted_at=timezone.now())
    page = text(client_for(alice).get("/"))
    assert "Paid capabilities are paused: a payment is overdue." in page
    assert "Nothing has been deleted" in page


def test_no_banner_in_good_standing(client_for, alice, acme):
    BillingAccount.objects.create(organization=acme, stripe_customer_id="cus_ok")
    page = text(client_for(alice).get("/billing/"))
    assert "payment-banner" not in page
    assert "In good standing" in page


def test_another_organizations_failed_payment_is_not_shown(client_for, alice, gina, globex):
    failed_payment(globex)
    assert "payment-banner" not in client_for(alice).get("/").content.decode()
    assert "payment-banner" in client_for(gina).get("/").content.decode()


def test_the_billing_page_costs_the_same_queries_whatever_the_invoices(
    client_for, alice, acme, django_assert_max_num_queries
):
    now = timezone.now()
    Invoice.objects.bulk_create(
        Invoice(
            organization=acme,
            stripe_invoice_id=f"in_{number}",
            number=f"ACME-{number:04}",
            status="paid",
            period_start=now - timedelta(days=31 * (number + 1)),
            period_end=now - timedelta(days=31 * number),
            total=1000 + number,
            event_at=now,
        )
        for number in range(MANY)
    )
    client = client_for(alice)
    # 19 today with the layout's approval state (cold cache); a query per invoice would add 12.
    with django_assert_max_num_queries(19):
        response = client.get("/billing/")
    assert response.status_code == 200
    assert "ACME-0000" in response.content.decode()
