"""The billing pages: the organization's billing page (owners, admins, billing)
with Stripe's upcoming invoice beside our estimate and the invoices; the
failed-payment banner; finance's price book, reconciliation runs (with their
htmx status partial and CSV export) and Stripe events; and billing's part of
the IT admin health page."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.utils import timezone

from billing import price_book, push, reconcile, standing
from billing.models import (
    BillingAccount,
    Invoice,
    MeterErrorReport,
    PriceVersion,
    ReconciliationLine,
    ReconciliationRun,
    WebhookEvent,
)
from billing.tasks import run_reconciliation
from capabilities import actions
from capabilities.registry import registry
from metering import formatting
from metering.periods import billing_period
from portal.models import AuditEntry
from tests.billing.conftest import hour_ago
from tests.factories import OrganizationFactory
from tests.html import text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
Status = ReconciliationLine.Status
Action = ReconciliationLine.Action


def rows_with(html: str, css_class: str) -> list[str]:
    """The table rows (`<tr ...>...</tr>`) whose class attribute includes `css_class`."""
    return [
        row
        for row in re.findall(r"<tr\b[^>]*>.*?</tr>", html, flags=re.S)
        if re.search(rf'<tr\b[^>]*class="[^"]*\b{css_class}\b', row)
    ]


def failed_payment(organization, **fields) -> BillingAccount:
    return BillingAccount.objects.create(
        organization=organization,
        stripe_customer_id="cus_test",
        payment_status=BillingAccount.Payment.FAILED,
        payment_failed_at=timezone.now() - timedelta(days=1),
        payment_failed_invoice="in_failed_1",
        **fields,
    )


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
    stripe, client_for, alice, acme, subscribed, record_usage
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
    stripe, client_for, alice, acme, subscribed, record_usage
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
    stripe, settings, client_for, alice, acme, subscribed, record_usage
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
    settings, client_for, alice, acme, record_usage, django_capture_on_commit_callbacks
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


def test_with_stripe_down_the_page_still_renders(stripe, client_for, alice, acme, subscribed, record_usage):
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


# --- finance: who may see the finance pages ---------------------------------------------------

FINANCE_PAGES = ["/finance/prices/", "/finance/reconciliations/", "/finance/stripe-events/"]


@pytest.mark.parametrize("url", FINANCE_PAGES)
@pytest.mark.parametrize("person", ["alice", "bob", "carol", "ivan"])
def test_finance_pages_are_for_finance_only(client_for, cast, url, person):
    assert client_for(cast[person]).get(url).status_code == 403


@pytest.mark.parametrize("url", FINANCE_PAGES)
def test_finance_sees_the_finance_pages_and_their_sidebar_links(client_for, fiona, url):
    response = client_for(fiona).get(url)
    assert response.status_code == 200
    page = text(response)
    for link in FINANCE_PAGES:
        assert f'href="{link}"' in page


def test_a_run_and_its_export_are_for_finance_only(client_for, cast):
    run = reconcile.start_run(None, billing_period(timezone.now()).start)
    for person in ("alice", "bob", "ivan"):
        client = client_for(cast[person])
        assert client.get(f"/finance/reconciliations/{run.pk}/").status_code == 403
        assert client.get(f"/finance/reconciliations/{run.pk}/", headers=HTMX).status_code == 403
        assert client.get(f"/finance/reconciliations/{run.pk}/export.csv").status_code == 403


def test_an_it_admin_cannot_start_a_reconciliation_or_change_a_price(client_for, ivan):
    client = client_for(ivan)
    period = billing_period(timezone.now()).start.isoformat()
    assert client.post("/finance/reconciliations/", {"period": period}).status_code == 403
    next_start = billing_period(timezone.now()).end.isoformat()
    response = client.post(
        "/finance/prices/",
        {"meter": "ocr.pages", "unit_price": "1", "effective_from": next_start, "note": "nope"},
    )
    assert response.status_code == 403
    assert not ReconciliationRun.objects.exists()
    assert not PriceVersion.objects.filter(version__gt=1).exists()


# --- finance: the price book ------------------------------------------------------------------


def price_rows(response) -> list[str]:
    markup = unescape(response.content.decode())
    body = markup[markup.index('class="table price-table"') :]
    return [" ".join(row.split()) for row in re.findall(r"<tr>.*?</tr>", body, flags=re.S)][1:]


def test_the_price_book_lists_every_meter_with_its_current_price(client_for, fiona):
    rows = price_rows(client_for(fiona).get("/finance/prices/"))
    declared = [(capability, meter) for capability in registry() for meter in capability.all_meters]
    assert declared, "the test settings install capability apps with meters"
    assert len(rows) == len(declared)
    for (capability, meter), row in zip(declared, rows, strict=True):
        assert capability.title in row
        assert f"<code>{meter.key}</code>" in row
        assert formatting.unit_price(meter.unit_price, meter.currency) in row
        assert "v1" in row and "1 version" in row
    ocr = rows[[capability.key for capability, _ in declared].index("ocr")]
    assert "$0.01" in ocr


def test_a_price_change_is_version_2_from_the_next_period(client_for, fiona):
    next_start = billing_period(timezone.now()).end
    response = client_for(fiona).post(
        "/finance/prices/",
        {
            "meter": "ocr.pages",
            "unit_price": "0.0125",
            "effective_from": next_start.isoformat(),
            "note": "New OCR vendor",
        },
        follow=True,
    )
    assert response.redirect_chain == [("/finance/prices/", 302)]
    page = text(response)
    assert (
        f"ocr.pages v2 at 0.0125 applies from {next_start:%d %B %Y}. "
        "Stripe gets the new Price at the next sync."
    ) in page

    version = PriceVersion.objects.get(capability="ocr", meter="pages", version=2)
    assert (version.unit_price, version.effective_from, version.note, version.created_by) == (
        Decimal("0.0125"),
        next_start,
        "New OCR vendor",
        fiona,
    )
    assert AuditEntry.objects.filter(action="billing.price_changed", actor=fiona).count() == 1

    [ocr] = [row for row in price_rows(response) if "<code>pages</code>" in row and "Text recognition" in row]
    assert "$0.01" in ocr and "v1" in ocr  # still in force this period
    assert f"$0.0125 from {next_start:%-d %b %Y}" in ocr  # scheduled
    assert "2 versions" in ocr
    assert f"v2: $0.0125 from {next_start:%-d %b %Y} — New OCR vendor (fiona@switchboard.test)" in ocr
    assert "v1: $0.01 from the start" in ocr


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("unit_price", "-0.01", "Ensure this value is greater than or equal to 0."),
        ("unit_price", "0.00000000001", "Ensure that there are no more than 10 decimal places."),
        ("unit_price", "cheap", "Enter a number."),
        ("unit_price", "", "This field is required."),
        ("note", "", "This field is required."),
        ("note", "   ", "This field is required."),
        ("meter", "ocr.bogus", "Select a valid choice."),
        ("meter", "nothing", "Select a valid choice."),
        ("effective_from", "2020-01-01T00:00:00+00:00", "Select a valid choice."),
    ],
)
def test_an_invalid_price_change_is_shown_and_changes_nothing(client_for, fiona, field, value, error):
    data = {
        "meter": "ocr.pages",
        "unit_price": "0.02",
        "effective_from": billing_period(timezone.now()).end.isoformat(),
        "note": "Because",
        field: value,
    }
    response = client_for(fiona).post("/finance/prices/", data)
    assert response.status_code == 200
    page = text(response)
    assert error in page
    assert "Stripe gets the new Price" not in page  # no success message
    assert len(price_rows(response)) > 0  # the price list is still there
    assert not PriceVersion.objects.filter(version__gt=1).exists()
    assert not AuditEntry.objects.filter(action="billing.price_changed").exists()


def test_a_scheduled_price_shows_every_decimal_place(client_for, fiona):
    next_start = billing_period(timezone.now()).end
    response = client_for(fiona).post(
        "/finance/prices/",
        {
            "meter": "ocr.pages",
            "unit_price": "0.0000001",
            "effective_from": next_start.isoformat(),
            "note": "Nearly free",
        },
        follow=True,
    )
    assert PriceVersion.objects.get(version=2).unit_price == Decimal("0.0000001")
    [ocr] = [row for row in price_rows(response) if "<code>pages</code>" in row and "Text recognition" in row]
    assert f"$0.0000001 from {next_start:%-d %b %Y}" in ocr


def test_ten_decimal_places_are_accepted(client_for, fiona):
    response = client_for(fiona).post(
        "/finance/prices/",
        {
            "meter": "ocr.pages",
            "unit_price": "0.0123456789",
            "effective_from": billing_period(timezone.now()).end.isoformat(),
            "note": "Precise",
        },
    )
    assert response.status_code == 302
    assert PriceVersion.objects.get(version=2).unit_price == Decimal("0.0123456789")


# --- finance: reconciliation ------------------------------------------------------------------


def test_the_reconciliations_page_before_any_run(stripe, client_for, fiona):
    page = text(client_for(fiona).get("/finance/reconciliations/"))
    assert "No reconciliation has run yet." in page
    assert "Stripe is not configured" not in page
    current = billing_period(timezone.now()).start
    assert re.search(
        rf'<option value="{re.escape(current.isoformat())}"[^>]*>{current:%B %Y} \(current\)</option>', page
    )
    assert re.search(r'<button class="btn" type="submit"\s*>Reconcile now</button>', page)


def test_without_stripe_the_page_says_so_and_disables_the_button(settings, client_for, fiona):
    settings.STRIPE_SECRET_KEY = ""
    page = text(client_for(fiona).get("/finance/reconciliations/"))
    assert "Stripe is not configured (<code>STRIPE_SECRET_KEY</code>)" in page
    assert '<button class="btn" type="submit" disabled>Reconcile now</button>' in page


def test_without_stripe_a_run_cannot_end_as_done(settings, client_for, fiona, monkeypatch):
    settings.STRIPE_SECRET_KEY = ""
    monkeypatch.setattr(run_reconciliation, "delay", lambda run_id: None)
    client_for(fiona).post(
        "/finance/reconciliations/", {"period": billing_period(timezone.now()).start.isoformat()}
    )
    for run in ReconciliationRun.objects.all():  # refusing to start one is fine too
        assert reconcile.run(run.pk).status != ReconciliationRun.Status.DONE


def test_starting_a_run_queues_it_and_its_task_on_commit(
    stripe, client_for, fiona, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(run_reconciliation, "delay", queued.append)
    period = billing_period(timezone.now()).start
    client = client_for(fiona)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/finance/reconciliations/", {"period": period.isoformat()})

    run = ReconciliationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/finance/reconciliations/{run.pk}/"
    assert (run.status, run.period_start, run.triggered_by) == (
        ReconciliationRun.Status.QUEUED,
        period,
        fiona,
    )
    assert queued == []  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert queued == [run.pk]

    page = text(client.get(response["Location"]))
    assert f"Reconciliation #{run.pk} of {period:%B %Y} started." in page
    assert "Queued" in page


def test_a_run_started_on_demand_covers_usage_up_to_the_settling_delay_at_once(
    stripe, client_for, alice, acme, fiona, subscribed, record_usage, monkeypatch
):
    """Issue 13: a run just started said "Usage up to 1 Dec 2026 00:00 UTC" (the
    period's start) although there was settled usage that day: the cutoff is
    the settling delay's, from the moment finance asks, and the live status says it."""
    monkeypatch.setattr(run_reconciliation, "delay", lambda run_id: None)
    at = hour_ago(3)
    subscribed(alice, acme)
    record_usage(acme, 30, at=at)
    client = client_for(fiona)
    client.post("/finance/reconciliations/", {"period": billing_period(at).start.isoformat()})
    run = ReconciliationRun.objects.get()
    assert run.status == ReconciliationRun.Status.QUEUED
    assert run.checked_until > at  # the usage three hours ago is settled: it is covered
    assert run.checked_until == reconcile.cutoff(run.period_start, run.created_at)
    covered = f"Usage up to {run.checked_until:%-d %b %Y %H:%M} UTC"
    assert covered in text(client.get(f"/finance/reconciliations/{run.pk}/"))
    assert covered in text(client.get(f"/finance/reconciliations/{run.pk}/", headers=HTMX))


def test_the_previous_period_can_be_reconciled_but_no_other(stripe, client_for, fiona):
    current = billing_period(timezone.now()).start
    previous = billing_period(current - timedelta(days=1)).start
    client = client_for(fiona)
    assert client.post("/finance/reconciliations/", {"period": previous.isoformat()}).status_code == 302
    assert ReconciliationRun.objects.get().period_start == previous

    for bogus in ("2020-01-01T00:00:00+00:00", "", "soon"):
        response = client.post("/finance/reconciliations/", {"period": bogus})
        assert response.status_code == 200
        assert "Select a valid choice." in text(response) or "This field is required." in text(response)
    assert ReconciliationRun.objects.count() == 1


@pytest.fixture
def reconciled(stripe, client_for, alice, gina, acme, globex, fiona, subscribed, record_usage, monkeypatch):
    """A finished run started from the page: globex's usage matched, acme's
    dropped by Stripe (missing, re-pushed)."""
    monkeypatch.setattr(run_reconciliation, "delay", lambda run_id: None)
    at = hour_ago(3)
    subscribed(gina, globex)
    record_usage(globex, 7, at=at)
    push.plan()
    assert push.send().sent == 1
    subscribed(alice, acme)
    record_usage(acme, 30, at=at)
    record_usage(acme, 12, at=at + timedelta(minutes=5))
    push.plan()
    stripe.config(drop_next_meter_events=1)  # Stripe answers 200 and loses acme's event
    assert push.send().sent == 1

    response = client_for(fiona).post(
        "/finance/reconciliations/", {"period": billing_period(at).start.isoformat()}
    )
    run = ReconciliationRun.objects.get()
    assert response["Location"] == f"/finance/reconciliations/{run.pk}/"
    run = reconcile.run(run.pk, now=timezone.now() + timedelta(hours=2))
    assert run.status == ReconciliationRun.Status.DONE
    return run


def line_rows(response) -> list[str]:
    markup = unescape(response.content.decode())
    body = markup[markup.index("<h2>Lines</h2>") :]
    body = body[body.index("<tbody") :]
    return [" ".join(row.split()) for row in re.findall(r"<tr\b[^>]*>.*?</tr>", body, flags=re.S)]


def test_a_finished_run_shows_its_lines_counts_and_full_progress(client_for, fiona, reconciled, acme, globex):
    run = reconciled
    response = client_for(fiona).get(f"/finance/reconciliations/{run.pk}/")
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    page = text(response)
    assert f"<h1>Reconciliation #{run.pk}: {run.period_start:%B %Y}</h1>" in page
    assert "by fiona@switchboard.test" in page
    assert '<progress id="run-progress" max="100" value="100"' in page
    assert f"Done · {run.progress_total} of {run.progress_total} organization-meters" in page
    assert run.progress_total >= 2  # two organizations, every priced meter
    counts = dict(re.findall(r'<div class="label">([^<]+)</div><div class="value">(\d+)</div>', page))
    assert counts == {
        "Matched": "1",
        "Missing in Stripe": "1",
        "Excess in Stripe": "0",
        "Unexplained": "0",
        "Settling": "0",
        "Stripe unavailable": "0",
    }
    assert 'hx-get="' not in page  # nothing to poll once done
    assert "Show the lines" not in page  # they are right here
    assert f'href="/finance/reconciliations/{run.pk}/export.csv"' in page

    rows = line_rows(response)
    [missing] = [row for row in rows if acme.name in row]
    [matched] = [row for row in rows if globex.name in row]
    assert "Missing in Stripe" in missing and "Re-pushed the difference" in missing
    assert re.search(r">42<.*>0<.*>-42<", missing)
    assert "Re-pushed 42 units" in missing
    assert "Matched" in matched and "None needed" in matched
    assert re.search(r">7<.*>7<.*>0<", matched)


def test_lines_filter_by_status_and_organization(client_for, fiona, reconciled, acme, globex):
    client = client_for(fiona)
    url = f"/finance/reconciliations/{reconciled.pk}/"

    missing = line_rows(client.get(url, {"status": Status.MISSING}))
    assert len(missing) == 1 and acme.name in missing[0]
    matched = line_rows(client.get(url, {"status": Status.MATCHED}))
    assert len(matched) == 1 and globex.name in matched[0]
    assert "No lines" in " ".join(line_rows(client.get(url, {"status": Status.EXCESS})))
    by_name = line_rows(client.get(url, {"organization": "glob"}))
    assert len(by_name) == 1 and globex.name in by_name[0]
    # The export link keeps the filter.
    page = text(client.get(url, {"status": Status.MISSING}))
    assert f'href="/finance/reconciliations/{reconciled.pk}/export.csv?status=missing"' in page


def test_the_htmx_partial_is_only_the_status_card(client_for, fiona, reconciled):
    response = client_for(fiona).get(f"/finance/reconciliations/{reconciled.pk}/", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    markup = response.content.decode().strip()
    assert markup.startswith('<section class="card" id="run-status"')
    assert markup.endswith("</section>")
    assert "<html" not in markup and "<h2>Lines</h2>" not in markup and "sidebar" not in markup
    assert 'value="100"' in markup
    assert "hx-get" not in markup and "hx-trigger" not in markup  # done: polling stops
    assert "Show the lines" in markup
    assert f'href="/finance/reconciliations/{reconciled.pk}/"' in markup


def test_a_running_run_keeps_polling(client_for, fiona):
    run = reconcile.start_run(fiona, billing_period(timezone.now()).start)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=ReconciliationRun.Status.RUNNING, progress_done=1, progress_total=4
    )
    url = f"/finance/reconciliations/{run.pk}/"
    markup = " ".join(client_for(fiona).get(url, headers=HTMX).content.decode().split())
    assert markup.startswith('<section class="card" id="run-status"')
    assert f'hx-get="{url}" hx-trigger="every 1s" hx-swap="outerHTML"' in markup
    assert 'value="25"' in markup
    assert "Running · 1 of 4 organization-meters" in markup
    assert "Show the lines" not in markup

    # The full page polls the same way.
    assert f'hx-get="{url}"' in text(client_for(fiona).get(url))


def test_a_failed_run_shows_its_error_and_stops_polling(client_for, fiona):
    run = reconcile.start_run(fiona, billing_period(timezone.now()).start)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=ReconciliationRun.Status.FAILED, error="Stripe: the emulator is down"
    )
    markup = text(client_for(fiona).get(f"/finance/reconciliations/{run.pk}/", headers=HTMX))
    assert "Stripe: the emulator is down Start a new run once Stripe answers again." in markup
    assert "hx-get" not in markup


def test_an_unknown_run_is_404(client_for, fiona):
    assert client_for(fiona).get("/finance/reconciliations/999999/").status_code == 404
    assert client_for(fiona).get("/finance/reconciliations/999999/export.csv").status_code == 404


def test_the_runs_list_links_each_run_newest_first(client_for, fiona, reconciled):
    older = reconciled
    newer = reconcile.start_run(None, older.period_start)
    page = text(client_for(fiona).get("/finance/reconciliations/"))
    assert page.index(f'href="/finance/reconciliations/{newer.pk}/"') < page.index(
        f'href="/finance/reconciliations/{older.pk}/"'
    )
    assert "Daily schedule" in page  # the newer run had no person behind it
    assert "fiona@switchboard.test" in page


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_csv_export_has_the_header_and_a_row_per_line(client_for, fiona, reconciled, acme, globex):
    response = client_for(fiona).get(f"/finance/reconciliations/{reconciled.pk}/export.csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="reconciliation-{reconciled.pk}-{reconciled.period_start:%Y-%m}.csv"'
    )
    header, *rows = csv_rows(response)
    assert header == [
        "day",
        "organization",
        "capability",
        "meter",
        "switchboard_quantity",
        "stripe_quantity",
        "difference",
        "status",
        "action",
        "detail",
    ]
    by_org = {row[1]: row for row in rows}
    assert by_org.keys() == {acme.slug, globex.slug}
    day = hour_ago(3).date().isoformat()
    assert by_org[acme.slug][:9] == [day, acme.slug, "ocr", "pages", "42", "0", "-42", "missing", "repushed"]
    assert by_org[acme.slug][9].startswith("Re-pushed 42 units as ")
    assert by_org[globex.slug] == [day, globex.slug, "ocr", "pages", "7", "7", "0", "matched", "none", ""]

    filtered = csv_rows(
        client_for(fiona).get(f"/finance/reconciliations/{reconciled.pk}/export.csv", {"status": "matched"})
    )
    assert [row[1] for row in filtered[1:]] == [globex.slug]


def test_the_csv_export_neutralises_formula_like_cells(client_for, fiona):
    formula = "=cmd|' /C calc'!A0"
    evil = OrganizationFactory(name=formula, slug=formula)
    run = reconcile.start_run(fiona, billing_period(timezone.now()).start)
    ReconciliationLine.objects.create(
        run=run,
        organization=evil,
        capability="ocr",
        meter="pages",
        day=run.period_start.date(),
        local_quantity=10,
        stripe_quantity=5,
        status=Status.MISSING,
        action=Action.REVIEW,
        detail="+SUM(1,2)",
    )
    [_, row] = csv_rows(client_for(fiona).get(f"/finance/reconciliations/{run.pk}/export.csv"))
    assert row[1] == "'" + formula
    assert row[9] == "'+SUM(1,2)"
    assert row[6] == "-5"  # our own number stays a number


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


# --- the IT admin health page -----------------------------------------------------------------


def billing_health(client) -> str:
    page = text(client.get("/manage/health/"))
    start = page.index("<h2>Billing: usage to Stripe</h2>")
    return page[start : page.index("</section>", start)]


def test_health_says_stripe_is_not_configured_without_a_key(settings, client_for, ivan):
    settings.STRIPE_SECRET_KEY = ""
    section = billing_health(client_for(ivan))
    assert (
        '<div class="label">Stripe</div><div class="value">'
        '<span class="badge badge-warn">Not configured</span>' in section
    )
    assert "Set STRIPE_SECRET_KEY; usage waits meanwhile." in section
    assert "No priced usage of a closed hour since" in section  # there is no usage at all
    assert '<span class="badge badge-ok">Never</span>' not in section
    assert '<span class="badge badge-warn">Never</span>' in section  # no push yet


def test_health_names_the_emulator_and_the_last_push(
    stripe, client_for, ivan, alice, acme, subscribed, record_usage
):
    subscribed(alice, acme)
    record_usage(acme, 5, at=hour_ago(2))
    push.plan()
    push.send()
    section = billing_health(client_for(ivan))
    assert '<span class="badge badge-warn">Emulator</span>' in section
    assert f"Offline emulator at {stripe.url}" in section
    assert '<span class="badge badge-ok">Empty</span>' in section
    assert "Never" not in section


# --- one rounding rule for every page (issue 13) ------------------------------------------


def test_billing_finance_and_usage_pages_round_money_by_stripes_invoice_rule(
    alice, acme, globex, fiona, client_for, record_usage
):
    """/billing/ said $1.22 where /finance/ said $1.23 for the same usage. Stripe
    rounds each metered line item (quantity times unit_amount_decimal) to the cent
    and adds the rounded lines: 123 pages at $0.005 is $0.615 -> $0.62, 1,210
    summaries at $0.0005 is $0.605 -> $0.61; the invoice says $1.23 (the exact
    total, $1.22, is on no invoice)."""
    from billing.models import PriceVersion
    from metering import meter_prices

    price_book.ensure_defaults()
    for capability, meter, price in (("ocr", "pages", "0.005"), ("summaries", "summaries", "0.0005")):
        PriceVersion.objects.create(
            capability=capability,
            meter=meter,
            version=2,
            unit_price=Decimal(price),
            currency="usd",
            effective_from=billing_period(timezone.now()).start,
            note="in force",
        )
    price_book.forget_cached_prices()
    actions.set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    at = hour_ago(3)
    record_usage(acme, 123, at=at)
    record_usage(acme, 1210, at=at, capability="summaries", meter="summaries")

    assert meter_prices.line_amount(123, Decimal("0.005"), "usd") == Decimal("0.62")
    assert meter_prices.line_amount(1210, Decimal("0.0005"), "usd") == Decimal("0.61")

    billing_page = client_for(alice).get("/billing/").content.decode()
    assert re.search(r'id="local-total">\$1\.23<', billing_page)
    usage_page = client_for(alice).get("/usage/").content.decode()
    assert re.search(r'id="period-cost">\$1\.23<', usage_page)
    finance_page = client_for(fiona).get(f"/finance/?organization={acme.slug}").content.decode()
    assert re.search(r'id="revenue">\$1\.23<', finance_page)
    # Across organizations too: globex's 123 pages are its own line ($0.62), so
    # the platform's revenue is $1.85, not 246 pages rounded once ($1.23 + $0.61).
    record_usage(globex, 123, at=at)
    everyone = client_for(fiona).get("/finance/").content.decode()
    assert re.search(r'id="revenue">\$1\.85<', everyone)
    assert re.search(r"Globex.*?\$0\.62<", everyone, re.S)
    # the by-meter panel adds up the same rounded lines: 246 pages are $0.62 + $0.62
    assert re.search(r"<code>pages</code>.*?\$1\.24<", everyone, re.S)
    assert "$1.23<" not in everyone.split("By capability and meter")[1].split("</table>")[0]
