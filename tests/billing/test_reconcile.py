"""Reconciliation against the emulator's meter event summaries: matched to the
unit; dropped events found and re-pushed; a duplicated push cancelled; a
correction after the push cancelled and re-pushed; Stripe-only usage flagged;
recent pushes left to settle; one summaries call per organization and meter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import push, reconcile, stripe_gateway
from billing.models import BillingAccount, ReconciliationLine, ReconciliationRun, StripeMeter, UsagePush
from capabilities import actions
from capabilities.models import Job
from metering import actions as metering_actions
from metering.models import UsageEvent
from metering.queries import billing_period
from tests.billing.conftest import hour_ago
from tests.billing.test_push import stripe_total
from tests.workers import celery_worker, wait_for

Status = ReconciliationLine.Status
Action = ReconciliationLine.Action


def reconcile_now(hours_later: float = 2) -> ReconciliationRun:
    """A run of the current period as seen `hours_later` (pushes are then settled)."""
    now = timezone.now() + timedelta(hours=hours_later)
    run = reconcile.start_run(None, billing_period(timezone.now()).start)
    return reconcile.run(run.pk, now=now)


def lines(run: ReconciliationRun) -> list[ReconciliationLine]:
    return list(run.lines.order_by("day", "capability", "meter"))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_jobs_pushed_and_reconciled_match_to_the_unit(
    stripe, alice, acme, django_capture_on_commit_callbacks
):
    """Switch on, run real jobs on a real worker, push, reconcile: matched."""
    with django_capture_on_commit_callbacks(execute=False):
        actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    from billing import sync

    sync.sync_all()
    with celery_worker(queues="cap.ocr"):
        jobs = [
            actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": pages})
            for pages in (3, 5, 8)
        ]
        wait_for(
            lambda: (
                Job.objects.filter(pk__in=[job.pk for job in jobs], status=Job.Status.SUCCEEDED).count() == 3
            ),
            60,
            "the jobs to finish",
        )
    local = sum(
        UsageEvent.objects.filter(organization=acme, meter="pages").values_list("quantity", flat=True)
    )
    assert local == 16

    later = timezone.now() + timedelta(hours=1, minutes=10)  # the jobs' hour has closed
    push.plan(now=later)
    assert push.send().sent == 1
    assert stripe_total(acme) == 16

    run = reconcile_now(hours_later=2.2)
    assert run.status == ReconciliationRun.Status.DONE
    [line] = lines(run)
    assert (line.local_quantity, line.stripe_quantity, line.status) == (16, 16, Status.MATCHED)
    assert run.matched == 1 and run.missing == run.excess == run.unexplained == 0
    # One summaries call per organization and Stripe meter (every priced meter is checked).
    assert run.api_calls == StripeMeter.objects.exclude(stripe_meter_id="").count()


@pytest.mark.django_db
def test_dropped_events_are_found_and_pushed_again(stripe, alice, acme, subscribed, record_usage):
    subscribed(alice, acme)
    record_usage(acme, 30, at=hour_ago(4))
    record_usage(acme, 12, at=hour_ago(3))
    push.plan()
    stripe.config(drop_next_meter_events=1)  # Stripe answers 200 and loses the first event
    assert push.send().sent == 2
    assert stripe_total(acme) == 12

    run = reconcile_now()
    [line] = lines(run)
    assert (line.status, line.action) == (Status.MISSING, Action.REPUSHED)
    assert (line.local_quantity, line.stripe_quantity) == (42, 12)
    repush = UsagePush.objects.get(source=UsagePush.Source.RECONCILIATION)
    assert repush.quantity == 30 and repush.status == UsagePush.Status.SENT  # sent by the run
    assert stripe_total(acme) == 42

    # The next run, once the re-push settled, finds everything matched.
    second = reconcile_now(hours_later=3)
    assert [line.status for line in lines(second)] == [Status.MATCHED]


@pytest.mark.django_db
def test_a_duplicated_push_is_cancelled(stripe, alice, acme, subscribed, record_usage):
    subscribed(alice, acme)
    at = hour_ago(3)
    record_usage(acme, 25, at=at)
    push.plan()
    push.send()
    original = UsagePush.objects.get()
    # A second sender that lost track of the first sends the window again under a new sequence number.
    UsagePush.objects.create(
        organization=acme,
        capability="ocr",
        meter="pages",
        window_start=original.window_start,
        seq=1,
        quantity=25,
        identifier=push.identifier(acme.pk, "ocr", "pages", original.window_start, 1),
    )
    push.send()
    assert stripe_total(acme) == 50

    run = reconcile_now()
    [line] = lines(run)
    assert (line.status, line.action) == (Status.EXCESS, Action.CANCELLED)
    assert line.difference == 25
    cancelled = UsagePush.objects.get(status=UsagePush.Status.CANCELLED)
    assert cancelled.seq == 1  # the newest push is the duplicate that goes
    assert cancelled.identifier in line.detail
    assert stripe_total(acme) == 25

    second = reconcile_now(hours_later=3)
    assert [line.status for line in lines(second)] == [Status.MATCHED]


@pytest.mark.django_db
def test_a_negative_correction_after_the_push_is_cancelled_and_repushed(
    stripe, alice, acme, fiona, subscribed, record_usage
):
    subscribed(alice, acme)
    at = hour_ago(3)
    record_usage(acme, 20, at=at)
    push.plan()
    push.send()
    metering_actions.record_correction(
        fiona, acme, capability="ocr", meter="pages", quantity=-6, reason="Duplicate upload", occurred_at=at
    )
    assert push.plan().negative  # the planner leaves a negative delta to reconciliation

    run = reconcile_now()
    [line] = lines(run)
    assert (line.status, line.action) == (Status.EXCESS, Action.CANCELLED)
    assert "re-pushed 14" in line.detail
    assert stripe_total(acme) == 14


@pytest.mark.django_db
def test_excess_older_than_a_day_is_flagged_for_a_credit_note(stripe, alice, acme, subscribed, record_usage):
    subscribed(alice, acme)
    record_usage(acme, 10, at=hour_ago(3))
    push.plan()
    push.send()
    UsagePush.objects.create(
        organization=acme,
        capability="ocr",
        meter="pages",
        window_start=UsagePush.objects.get().window_start,
        seq=1,
        quantity=4,
        identifier=push.identifier(acme.pk, "ocr", "pages", UsagePush.objects.get().window_start, 1),
    )
    push.send()
    # Pretend Stripe received both more than 24 h ago: no cancelling any more.
    UsagePush.objects.update(sent_at=timezone.now() - timedelta(days=2))
    run = reconcile_now()
    [line] = lines(run)
    assert (line.status, line.action) == (Status.EXCESS, Action.CREDIT_NOTE)
    assert "4 unit(s)" in line.detail and "credit note" in line.detail
    assert stripe_total(acme) == 14  # nothing touched


@pytest.mark.django_db
def test_usage_we_never_sent_is_unexplained(stripe, alice, acme, subscribed):
    subscribed(alice, acme)
    account = BillingAccount.objects.get(organization=acme)
    meter = StripeMeter.objects.get(capability="ocr", meter="pages")
    stripe_gateway.send_meter_event(
        event_name=meter.event_name,
        customer=account.stripe_customer_id,
        value=5,
        identifier="someone-else-1",
        occurred_at=hour_ago(3),
    )
    run = reconcile_now()
    [line] = lines(run)
    assert (line.status, line.action, line.local_quantity, line.stripe_quantity) == (
        Status.UNEXPLAINED,
        Action.REVIEW,
        0,
        5,
    )


@pytest.mark.django_db
def test_recent_pushes_are_left_to_settle(stripe, alice, acme, subscribed, record_usage):
    subscribed(alice, acme)
    record_usage(acme, 10, at=hour_ago(3))
    push.plan()
    push.send()
    run = reconcile_now(hours_later=0.1)  # the push went out minutes ago
    [line] = lines(run)
    assert (line.status, line.action) == (Status.SETTLING, Action.NONE)


@pytest.mark.django_db
def test_pending_pushes_are_not_pushed_twice(stripe, alice, acme, subscribed, record_usage):
    """Usage planned but not sent yet (Stripe was down) shows as missing, and
    the run waits for the push instead of re-pushing it."""
    subscribed(alice, acme)
    record_usage(acme, 10, at=hour_ago(3))
    push.plan()
    run = reconcile_now()
    [line] = lines(run)
    assert (line.status, line.action) == (Status.MISSING, Action.WAITING)
    assert not UsagePush.objects.filter(source=UsagePush.Source.RECONCILIATION).exists()
    assert stripe_total(acme) == 10  # the run sends what is pending as it ends


@pytest.mark.django_db
def test_stripe_down_fails_the_run_with_a_clear_error(stripe, alice, acme, subscribed, record_usage):
    subscribed(alice, acme)
    record_usage(acme, 10, at=hour_ago(3))
    stripe.config(down=True)
    run = reconcile_now()
    assert run.status == ReconciliationRun.Status.FAILED
    assert run.error.startswith("Stripe:")


@pytest.mark.django_db
def test_one_summaries_call_per_organization_and_meter(
    stripe, alice, acme, gina, globex, subscribed, record_usage
):
    subscribed(alice, acme)
    subscribed(gina, globex)
    actions.set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    from billing import sync

    sync.sync_all()
    for organization in (acme, globex):
        record_usage(organization, 3, at=hour_ago(3))
    push.plan()
    push.send()
    run = reconcile_now()
    meters = StripeMeter.objects.exclude(stripe_meter_id="").count()
    assert run.progress_total == 2 * meters
    assert run.api_calls == 2 * meters
    assert run.percent == 100
    assert {line.status for line in lines(run)} == {Status.MATCHED}


@pytest.mark.django_db
def test_usage_not_planned_yet_is_planned_not_repushed(stripe, alice, acme, subscribed, record_usage):
    """The periodic push hasn't run since the usage was recorded: the run plans
    the closed windows first, so the usage waits as a pending push in its own
    hour instead of being re-pushed into another one (and then pushed twice)."""
    subscribed(alice, acme)
    at = hour_ago(3)
    record_usage(acme, 17, at=at)
    run = reconcile_now()
    [line] = lines(run)
    assert (line.status, line.action) == (Status.MISSING, Action.WAITING)
    [planned] = UsagePush.objects.all()
    assert planned.source == UsagePush.Source.PUSH and planned.window_start == at.replace(minute=0)
    assert stripe_total(acme) == 17  # sent as the run ended
    assert push.plan().created == 0


@pytest.mark.django_db
def test_a_run_whose_worker_stopped_is_marked_failed():
    from billing.tasks import reconcile_daily

    stuck = reconcile.start_run(None, billing_period(timezone.now()).start)
    ReconciliationRun.objects.filter(pk=stuck.pk).update(
        status=ReconciliationRun.Status.RUNNING, started_at=timezone.now() - timedelta(hours=4)
    )
    recent = reconcile.start_run(None, billing_period(timezone.now()).start)
    ReconciliationRun.objects.filter(pk=recent.pk).update(
        status=ReconciliationRun.Status.RUNNING, started_at=timezone.now() - timedelta(minutes=10)
    )
    reconcile_daily()  # Stripe unconfigured here: only the stale run is dealt with
    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert stuck.status == ReconciliationRun.Status.FAILED and "stopped" in stuck.error
    assert recent.status == ReconciliationRun.Status.RUNNING
