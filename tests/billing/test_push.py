"""The usage push: closed hours go to Stripe as meter events with deterministic
identifiers, late usage as a delta, one call at a time; while Stripe is down
or unconfigured nothing is lost and the backlog drains later."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import push, queries, stripe_gateway, sync
from billing.models import BillingAccount, PushCursor, StripeMeter, UsagePush
from capabilities import releases
from metering.moments import hour_of
from metering.periods import billing_period

pytestmark = pytest.mark.django_db


def stripe_total(organization, capability="ocr", meter="pages") -> int:
    """What Stripe's summaries say the organization used, over the last 35 days."""
    account = BillingAccount.objects.get(organization=organization)
    stripe_meter = StripeMeter.objects.get(capability=capability, meter=meter)
    end = hour_of(timezone.now()) + timedelta(hours=1)
    summaries, _ = stripe_gateway.meter_summaries(
        meter=stripe_meter.stripe_meter_id,
        customer=account.stripe_customer_id,
        start=end - timedelta(days=30),
        end=end,
        window="hour",
    )
    return int(sum(summary.value for summary in summaries))


def test_closed_windows_are_pushed_once_with_deterministic_identifiers(
    stripe, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    at = hour_ago(3)
    record_usage(acme, 40, at=at)
    record_usage(acme, 2, at=at + timedelta(minutes=10))
    record_usage(acme, 5, at=hour_ago(2))

    plan = push.plan()
    assert (plan.windows, plan.created, plan.quantity) == (2, 2, 47)
    pushes = list(UsagePush.objects.order_by("window_start"))
    window = at.replace(minute=0)
    assert pushes[0].identifier == f"{acme.pk}:ocr.pages:{window:%Y%m%dT%H}:0"
    assert pushes[0].quantity == 42

    report = push.send()
    assert (report.sent, report.rejected) == (2, 0)
    assert stripe_total(acme) == 47

    # Planning and sending again changes nothing.
    assert push.plan().created == 0
    assert push.send().sent == 0
    assert stripe_total(acme) == 47


def test_a_resent_push_is_deduplicated_by_stripe(stripe, alice, acme, subscribed, record_usage, hour_ago):
    """A crash after Stripe took the event but before we marked it sent: the
    same identifier goes again and Stripe counts it once."""
    subscribed(alice, acme)
    record_usage(acme, 9, at=hour_ago(2))
    push.plan()
    push.send()
    UsagePush.objects.update(status=UsagePush.Status.PENDING, sent_at=None)
    assert push.send().sent == 1
    assert stripe_total(acme) == 9
    assert stripe.state()["meter_events"]["deduplicated"] >= 1


def test_open_window_waits_and_late_usage_goes_as_a_delta(
    stripe, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    closed = hour_ago(2)
    record_usage(acme, 10, at=closed)
    record_usage(acme, 3, at=timezone.now())  # this hour: still open
    assert push.plan().quantity == 10
    push.send()

    record_usage(acme, 4, at=closed)  # late usage for a window already sent
    plan = push.plan()
    assert (plan.created, plan.quantity) == (1, 4)
    delta = UsagePush.objects.get(seq=1)
    assert delta.identifier.endswith(":1") and delta.quantity == 4
    push.send()
    assert stripe_total(acme) == 14

    # An hour later the open window has closed and goes too.
    later = timezone.now() + timedelta(hours=1, minutes=10)
    assert push.plan(now=later).quantity == 3


def test_only_priced_meters_are_pushed(stripe, alice, acme, subscribed, record_usage, hour_ago):
    subscribed(alice, acme)
    record_usage(acme, 5, at=hour_ago(2), meter="compute_seconds")  # free for ocr
    assert push.plan().created == 0


def test_stripe_down_for_an_hour_loses_nothing(stripe, alice, acme, subscribed, record_usage, hour_ago):
    subscribed(alice, acme)
    stripe.config(down=True)
    for hours in (5, 4, 3):
        record_usage(acme, hours * 10, at=hour_ago(hours))
    push.plan()
    report = push.send()
    assert report.sent == 0 and "unavailable" in report.stopped.lower()
    backlog = queries.backlog()
    assert (backlog.pending, backlog.hours, backlog.quantity) == (3, 3, 120)
    first = UsagePush.objects.order_by("window_start").first()
    assert first.attempts == 1 and first.next_attempt_at > timezone.now()
    assert "api_error" in first.last_error

    # Usage keeps coming while Stripe is down; the pushes wait their backoff.
    record_usage(acme, 7, at=hour_ago(2))
    push.plan()
    assert push.send().sent == 0

    # An hour later Stripe is back: the backlog drains.
    stripe.config(down=False)
    drained = push.send(now=timezone.now() + timedelta(hours=1))
    assert drained.sent == 4
    assert queries.backlog().pending == 0 and queries.backlog().empty
    assert stripe_total(acme) == 127


def test_rate_limited_pair_is_retried_later(stripe, alice, acme, subscribed, record_usage, hour_ago):
    subscribed(alice, acme)
    record_usage(acme, 1, at=hour_ago(3))
    record_usage(acme, 2, at=hour_ago(2))
    push.plan()
    stripe.config(fail_next=[429])
    report = push.send()
    # The 429 pauses that customer and meter for this run; nothing is lost.
    assert (report.sent, report.deferred) == (0, 2)
    assert push.send(now=timezone.now() + timedelta(hours=1)).sent == 2
    assert stripe_total(acme) == 3


def test_sdk_retries_transient_errors(stripe, settings, alice, acme, subscribed, record_usage, hour_ago):
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    subscribed(alice, acme)
    record_usage(acme, 6, at=hour_ago(2))
    push.plan()
    stripe.config(fail_next=[500, 429])
    assert push.send().sent == 1
    assert stripe_total(acme) == 6


def test_unconfigured_stripe_keeps_the_backlog(settings, alice, acme, record_usage, hour_ago):
    from capabilities import actions

    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    settings.STRIPE_SECRET_KEY = ""
    record_usage(acme, 8, at=hour_ago(2))
    assert push.plan().created == 1
    report = push.send()
    assert report.stopped == "Stripe is not configured"
    backlog = queries.backlog()
    assert (backlog.pending, backlog.hours, backlog.quantity) == (1, 1, 8)


def test_the_planner_reads_only_what_was_recorded_since_last_time(
    stripe, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    record_usage(acme, 3, at=hour_ago(2))
    push.plan()
    cursor = PushCursor.objects.get()
    assert cursor.recorded_until <= timezone.now()
    assert push.plan().windows == 1  # read again: within the rescan margin
    # Once the cursor is past it (and its margin), the event is not read again.
    PushCursor.objects.update(recorded_until=timezone.now() + timedelta(minutes=30))
    assert push.plan().windows == 0
    # The cursor never runs ahead of the clock, whatever `now` a caller passes.
    push.plan(now=timezone.now() + timedelta(days=2))
    assert PushCursor.objects.get().recorded_until <= timezone.now()


def test_sync_and_push_for_two_organizations_use_their_own_customers(
    stripe, alice, acme, gina, globex, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    subscribed(gina, globex)
    record_usage(acme, 11, at=hour_ago(2))
    record_usage(globex, 22, at=hour_ago(2))
    push.plan()
    push.send()
    assert stripe_total(acme) == 11
    assert stripe_total(globex) == 22
    assert sync.customer_ids({acme.pk, globex.pk}).keys() == {acme.pk, globex.pk}


def test_health_page_shows_the_backlog(
    stripe, client_for, ivan, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    stripe.config(down=True)
    record_usage(acme, 12, at=hour_ago(2))
    push.plan()
    push.send()
    page = client_for(ivan).get("/manage/health/").content.decode()
    assert "Billing: usage to Stripe" in page
    assert "1 hour waiting" in page
    assert "12 units in 1 organization-meter-hour" in page
    assert "1 push planned, waiting to be sent." in page


def test_the_hour_in_progress_is_pushed_as_it_fills_with_the_open_hour_setting(
    stripe, alice, acme, subscribed, record_usage, settings
):
    settings.BILLING_PUSH_OPEN_HOUR = True
    subscribed(alice, acme)
    this_hour = hour_of(timezone.now())  # one window, even if the test runs across an hour's end
    record_usage(acme, 5, at=this_hour)
    push.plan()
    assert push.send().sent == 1
    record_usage(acme, 2, at=this_hour)
    push.plan()
    assert push.send().sent == 1  # the new usage only, as a delta with the next sequence number
    pushes = list(UsagePush.objects.filter(organization=acme).order_by("seq").values_list("seq", "quantity"))
    assert pushes == [(0, 5), (1, 2)]


def test_a_version_priced_differently_is_billed_on_its_own_stripe_meter_and_price(
    stripe, alice, acme, subscribed, record_usage, hour_ago, django_capture_on_commit_callbacks
):
    """OCR 2.0.0 (beta) prices pages at 0.005 instead of 0.010: its jobs' pages
    go to a meter of their own, with its own Stripe meter, price and item, which
    the subscription holds only while the organization runs that version."""
    subscribed(alice, acme)
    account = BillingAccount.objects.get(organization=acme)
    assert {item.meter for item in account.items.all()} == {"pages"}  # on stable: no empty beta line

    with django_capture_on_commit_callbacks(execute=False):
        releases.set_channel(alice, acme, "ocr", "beta")
    sync.sync_organization(acme)
    items = {item.meter: item.price.unit_price for item in account.items.all()}
    assert items == {"pages": Decimal("0.01"), "pages_v2_0_0": Decimal("0.005")}
    assert StripeMeter.objects.get(meter="pages_v2_0_0").event_name == "switchboard.ocr.pages_v2_0_0"

    record_usage(acme, 2, at=hour_ago(3))
    record_usage(acme, 3, at=hour_ago(3), meter="pages_v2_0_0")
    push.plan()
    assert push.send().sent == 2
    assert (stripe_total(acme), stripe_total(acme, meter="pages_v2_0_0")) == (2, 3)

    # Back on stable, the beta item stays until the period's end: its pages are billed.
    with django_capture_on_commit_callbacks(execute=False):
        releases.set_channel(alice, acme, "ocr", "stable")
    sync.sync_organization(acme)
    beta_item = account.items.get(meter="pages_v2_0_0")
    assert beta_item.remove_after == billing_period(timezone.now()).end + sync.REMOVAL_DELAY


def test_usage_of_a_version_the_organization_left_before_its_item_was_made_is_billed(
    stripe, alice, acme, subscribed, record_usage, now
):
    """A job queued on the beta finished after the organization went back to
    stable, before any sync saw it on beta: the sync adds the beta's item for
    the period, so those pages are invoiced."""
    subscribed(alice, acme)
    record_usage(acme, 4, at=now, meter="pages_v2_0_0")

    sync.sync_organization(acme)

    account = BillingAccount.objects.get(organization=acme)
    assert {item.meter for item in account.items.all()} == {"pages", "pages_v2_0_0"}
    # Once it holds the item, the next sync lets it leave at the period's end.
    sync.sync_organization(acme)
    assert account.items.get(meter="pages_v2_0_0").remove_after is not None
