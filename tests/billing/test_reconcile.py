"""Reconciliation against the emulator's meter event summaries: matched to the
unit; dropped events found and re-pushed; a duplicated push cancelled; a
correction after the push cancelled and re-pushed; Stripe-only usage flagged;
recent pushes left to settle; one summaries call per organization and meter.

One module for the reconciliation engine: each outcome of a line is a
scenario on the same emulator set-up, so they stay side by side.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from billing import push, reconcile, stripe_gateway
from billing.models import BillingAccount, ReconciliationLine, ReconciliationRun, StripeMeter, UsagePush
from capabilities import actions
from capabilities.models import Job
from metering import actions as metering_actions
from metering.models import UsageEvent
from metering.periods import billing_period
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
def test_dropped_events_are_found_and_pushed_again(stripe, alice, acme, subscribed, record_usage, hour_ago):
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
    # Both pushes are young enough for Stripe to deduplicate: they are sent
    # again under their own identifiers; Stripe counts the lost one only.
    assert not UsagePush.objects.filter(source=UsagePush.Source.RECONCILIATION).exists()
    assert UsagePush.objects.filter(resent_at__isnull=False).count() == 2
    assert stripe_total(acme) == 42

    # The next run, once the re-push settled, finds everything matched.
    second = reconcile_now(hours_later=3)
    assert [line.status for line in lines(second)] == [Status.MATCHED]


@pytest.mark.django_db
def test_a_duplicated_push_is_cancelled(stripe, alice, acme, subscribed, record_usage, hour_ago):
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
    stripe, alice, acme, fiona, subscribed, record_usage, hour_ago
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
def test_excess_older_than_a_day_is_flagged_for_a_credit_note(
    stripe, alice, acme, subscribed, record_usage, hour_ago
):
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
    assert "4 units" in line.detail and "credit note" in line.detail
    assert stripe_total(acme) == 14  # nothing touched


@pytest.mark.django_db
def test_usage_we_never_sent_is_unexplained(stripe, alice, acme, subscribed, hour_ago):
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
def test_recent_pushes_are_left_to_settle(stripe, alice, acme, subscribed, record_usage, hour_ago):
    subscribed(alice, acme)
    record_usage(acme, 10, at=hour_ago(3))
    push.plan()
    push.send()
    run = reconcile_now(hours_later=0.1)  # the push went out minutes ago
    [line] = lines(run)
    assert (line.status, line.action) == (Status.SETTLING, Action.NONE)


@pytest.mark.django_db
def test_pending_pushes_are_not_pushed_twice(stripe, alice, acme, subscribed, record_usage, hour_ago):
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
def test_stripe_down_fails_the_run_with_a_clear_error(
    stripe, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    record_usage(acme, 10, at=hour_ago(3))
    stripe.config(down=True)
    run = reconcile_now()
    assert run.status == ReconciliationRun.Status.FAILED
    assert run.error.startswith("Stripe:")


@pytest.mark.django_db
def test_one_summaries_call_per_organization_and_meter(
    stripe, alice, acme, gina, globex, subscribed, record_usage, hour_ago
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
def test_usage_not_planned_yet_is_planned_not_repushed(
    stripe, alice, acme, subscribed, record_usage, hour_ago
):
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


@pytest.mark.django_db
def test_a_run_whose_message_was_lost_is_sent_again(monkeypatch, settings):
    """Finance asked for a run and its message vanished (Redis lost it): beat
    sends it again once it is JOB_REQUEUE_GRACE late, so it never stays
    queued for ever; runs just asked for, and runs already taken, are left."""
    from billing import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.run_reconciliation, "delay", sent.append)
    late = timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_GRACE + 1)
    period = billing_period(timezone.now()).start
    lost = reconcile.start_run(None, period)
    taken = reconcile.start_run(None, period)
    just_asked = reconcile.start_run(None, period)
    ReconciliationRun.objects.filter(pk__in=[lost.pk, taken.pk]).update(created_at=late)
    ReconciliationRun.objects.filter(pk=taken.pk).update(status=ReconciliationRun.Status.RUNNING)

    assert tasks.resend_waiting_reconciliations() == [lost.pk]
    assert sent == [lost.pk]
    tasks.run_reconciliation(lost.pk)  # the message sent again arrives (Stripe unconfigured here)
    lost.refresh_from_db()
    assert lost.status == ReconciliationRun.Status.FAILED and "not configured" in lost.error
    assert tasks.resend_waiting_reconciliations() == []
    assert ReconciliationRun.objects.get(pk=just_asked.pk).status == ReconciliationRun.Status.QUEUED
    entry = settings.CELERY_BEAT_SCHEDULE["billing-resend-waiting-reconciliations"]
    assert entry == {
        "task": "billing.resend_waiting_reconciliations",
        "schedule": settings.JOB_SWEEP_INTERVAL,
    }


# --- Stripe lagging longer than the settling delay ------------------------------------------------

LAG = timedelta(minutes=90)  # Stripe's summaries lag; the portal's settling delay is 60 minutes


def stripe_holds(emulator, organization) -> int:  # type: ignore[no-untyped-def]
    """What Stripe has counted for the organization, visible in the summaries
    or not yet: the emulator's own view, read with its consistency delay off."""
    emulator.config(summary_delay_seconds=0)
    try:
        return stripe_total(organization)
    finally:
        emulator.config(summary_delay_seconds=LAG.total_seconds())


def run_at(emulator, moment) -> ReconciliationRun:  # type: ignore[no-untyped-def]
    """A run of the current period at `moment`, with the emulator's clock
    moved to the same moment (both clocks are explicit: no waiting)."""
    emulator.set_clock(moment.timestamp())
    run = reconcile.start_run(None, billing_period(timezone.now()).start)
    return reconcile.run(run.pk, now=moment)


@pytest.mark.django_db
def test_lagging_summaries_are_never_pushed_twice(
    stripe, alice, acme, gina, globex, subscribed, record_usage, hour_ago
):
    """Summaries lag 90 minutes against a 60-minute settling delay. Acme's push
    arrived (only late); Globex's was lost. Run after run, Stripe never holds
    more than the ledger; the lost push is recovered; once the lag has passed
    every line matches."""
    stripe.config(summary_delay_seconds=LAG.total_seconds())
    subscribed(alice, acme)
    subscribed(gina, globex)
    record_usage(acme, 10, at=hour_ago(3))
    push.plan()
    assert push.send().sent == 1
    record_usage(globex, 7, at=hour_ago(3))
    push.plan()
    stripe.config(drop_next_meter_events=1)  # Stripe answers 200 and loses Globex's event
    assert push.send().sent == 1
    sent = max(UsagePush.objects.values_list("sent_at", flat=True))
    # The emulator's clock starts at the moment of the last push (a few seconds at most).
    start = max(sent, datetime.fromtimestamp(stripe.now() + 1, tz=UTC))
    ledger = {acme: 10, globex: 7}

    seen: dict[int, dict[str, str]] = {}
    for minutes in (30, 65, 75, 85, 100, 150, 170):
        run = run_at(stripe, start + timedelta(minutes=minutes))
        assert run.status == ReconciliationRun.Status.DONE
        for organization, units in ledger.items():
            held = stripe_holds(stripe, organization)
            assert held <= units, f"Stripe holds {held} for {organization} at +{minutes} min"
        seen[minutes] = {line.organization.slug: line.status for line in lines(run)}

    assert seen[30] == {acme.slug: Status.SETTLING, globex.slug: Status.SETTLING}
    # Past the settling delay, not yet past the lag: both look missing and are
    # sent again under their own identifiers; Stripe counts only Globex's.
    assert seen[65] == {acme.slug: Status.MISSING, globex.slug: Status.MISSING}
    assert stripe_holds(stripe, acme) == 10 and stripe_holds(stripe, globex) == 7
    assert not UsagePush.objects.filter(source=UsagePush.Source.RECONCILIATION).exists()
    assert stripe.state()["meter_events"]["deduplicated"] >= 3  # acme's resends, globex's after the first
    # Acme's push shows once the lag has passed; Globex's resend, 90 minutes after it was sent.
    assert seen[100][acme.slug] == Status.MATCHED
    assert seen[170] == {acme.slug: Status.MATCHED, globex.slug: Status.MATCHED}
    assert (stripe_total(acme), stripe_total(globex)) == (10, 7)


# --- Stripe failing for one organization-meter -----------------------------------------------------


@pytest.mark.django_db
def test_a_500_on_one_summaries_call_marks_that_line_unavailable_and_the_run_goes_on(
    stripe, alice, acme, gina, globex, fiona, subscribed, record_usage, client_for, hour_ago
):
    subscribed(alice, acme)
    subscribed(gina, globex)
    record_usage(acme, 10, at=hour_ago(3))
    push.plan()
    push.send()
    # Globex's push was lost a while ago, too long for Stripe to deduplicate it:
    # the run re-pushes the gap as a new delta.
    record_usage(globex, 30, at=hour_ago(4))
    push.plan()
    stripe.config(drop_next_meter_events=1)
    push.send()
    UsagePush.objects.filter(organization=globex).update(sent_at=timezone.now() - timedelta(days=2))
    # Acme used 5 more since the last push: the run plans it and must send it.
    record_usage(acme, 5, at=hour_ago(3))

    acme_customer = BillingAccount.objects.get(organization=acme).stripe_customer_id
    pages = StripeMeter.objects.get(capability="ocr", meter="pages").stripe_meter_id

    def totals(meter: str, customer: str, start, end):  # type: ignore[no-untyped-def]
        if (meter, customer) == (pages, acme_customer):
            stripe.config(fail_next=[500])  # Stripe fails this one call (after the SDK's retries)
        return reconcile.grouped_daily_totals(meter, customer, start, end)

    queued = reconcile.start_run(None, billing_period(timezone.now()).start)
    run = reconcile.run(queued.pk, now=timezone.now() + timedelta(hours=2), daily_totals=totals)

    assert run.status == ReconciliationRun.Status.PARTIAL
    assert run.progress_done == run.progress_total and run.percent == 100
    assert (run.unavailable, run.missing, run.matched) == (1, 1, 0)
    [unavailable] = run.lines.filter(status=Status.UNAVAILABLE)
    assert (unavailable.organization, unavailable.local_quantity, unavailable.stripe_quantity) == (
        acme,
        15,
        None,
    )
    assert unavailable.difference is None and "did not answer" in unavailable.detail
    [missing] = run.lines.filter(organization=globex)
    assert (missing.status, missing.action) == (Status.MISSING, Action.REPUSHED)
    repush = UsagePush.objects.get(source=UsagePush.Source.RECONCILIATION)
    assert (repush.organization, repush.quantity, repush.status) == (globex, 30, UsagePush.Status.SENT)
    assert stripe_total(globex) == 30
    assert stripe_total(acme) == 15  # what the run planned went out too

    # Finance sees it in words, in the CSV and in the API.
    client = client_for(fiona)
    page = client.get(f"/finance/reconciliations/{run.pk}/").content.decode()
    assert "Done with problems" in page and "Stripe unavailable" in page
    assert "nothing was compared or changed" in page
    csv = client.get(f"/finance/reconciliations/{run.pk}/export.csv").content.decode()
    [row] = [row for row in csv.splitlines() if f",{acme.slug}," in row]
    assert ",15,,,unavailable,none," in row
    body = client.get(f"/api/v1/billing/reconciliations/{run.pk}").json()
    assert (body["run"]["status"], body["run"]["unavailable"]) == ("partial", 1)
    [api_line] = [line for line in body["lines"] if line["status"] == "unavailable"]
    assert (api_line["stripe_quantity"], api_line["difference"]) == (None, None)

    # The next run, with Stripe answering, reconciles acme too.
    second = reconcile_now(hours_later=3)
    assert second.status == ReconciliationRun.Status.DONE
    assert {line.status for line in lines(second)} == {Status.MATCHED}
