"""Deliveries end to end in this process: a job finishes, rules fire, the
deliver job makes one attempt through the runner, failures are retried, and a
message is billed once when delivered, never when it finally fails."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from celery import current_app
from django.core import mail

from capabilities.actions import start_job
from capabilities.models import Job
from capabilities.notifications import actions, channels
from capabilities.notifications.models import Delivery, Rule
from capabilities.notifications.tasks import retry_delivery
from capabilities.runner import _run
from tests.capabilities.notifications.conftest import billed, switch_off
from tests.capabilities.notifications.receiver import webhook_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def retries(monkeypatch):
    """The retries the delivery job schedules (Celery countdowns), recorded
    instead of sent to the broker; tests run them with `start_attempt`."""
    scheduled: list[dict] = []

    def record(*, args, countdown, queue):
        scheduled.append({"delivery": args[0], "attempt": args[1], "countdown": countdown, "queue": queue})

    monkeypatch.setattr(retry_delivery, "apply_async", record)
    return scheduled


def _webhook_rule(alice, acme, url, event=Rule.Event.BOTH) -> Rule:
    return actions.create_rule(alice, acme, capability="ocr", event=event, channel="webhook", target=url)


def _ocr_job(alice, acme, *, fail=False) -> Job:
    return start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1, "fail": fail})


def test_a_finished_job_sends_a_signed_webhook_billed_once(alice, acme_on, run_queued, retries):
    with webhook_receiver([200]) as receiver:
        rule = _webhook_rule(alice, acme_on, receiver.url)
        job = _ocr_job(alice, acme_on)
        outcomes = run_queued()

    assert outcomes == ["ocr.recognize:succeeded", "notifications.deliver:succeeded"]
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.source_job_id == job.pk and delivery.event == "job.succeeded"
    attempt = delivery.attempts.get()
    assert (attempt.number, attempt.succeeded, attempt.status_code, attempt.error) == (1, True, 200, "")

    [call] = receiver.received
    assert channels.verify(rule.secret, call.headers[channels.SIGNATURE_HEADER], call.body)
    assert call.headers[channels.DELIVERY_HEADER] == str(delivery.pk)
    body = json.loads(call.body)
    assert body["event"] == "job.succeeded" and body["job"]["id"] == job.pk
    assert body["capability"] == {"key": "ocr", "name": "Text recognition"}
    assert body["delivery"] == delivery.pk and body["test"] is False

    assert billed(acme_on, "webhooks") == 1
    assert billed(acme_on, "emails") == 0
    assert retries == []


def test_the_event_filter_picks_success_or_failure(alice, acme_on, run_queued, retries):
    with webhook_receiver([200]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url + "/failed", event=Rule.Event.FAILED)
        _webhook_rule(alice, acme_on, receiver.url + "/succeeded", event=Rule.Event.SUCCEEDED)
        _ocr_job(alice, acme_on, fail=True)
        run_queued()
        _ocr_job(alice, acme_on)
        run_queued()
    assert [call.path for call in receiver.received] == ["/hook/failed", "/hook/succeeded"]
    failed_payload = json.loads(receiver.received[0].body)
    assert failed_payload["event"] == "job.failed"
    assert failed_payload["job"]["error"] == "The scan was unreadable."
    assert billed(acme_on, "webhooks") == 2


def test_notification_jobs_never_notify_about_themselves(alice, acme_on, run_queued, retries):
    """A rule watching every outcome of ocr, a failing receiver: the failed
    deliver jobs must not cause more deliveries."""
    with webhook_receiver([500]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        outcomes = run_queued()
    assert outcomes == ["ocr.recognize:succeeded", "notifications.deliver:failed"]
    assert Delivery.objects.count() == 1
    with pytest.raises(Exception, match="not Notifications itself"):
        actions.create_rule(
            alice, acme_on, capability="notifications", event="both", channel="email", target="a@b.test"
        )


def test_500_then_200_is_retried_with_backoff_and_billed_once(alice, acme_on, run_queued, retries):
    with webhook_receiver([500, 200]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        assert run_queued() == ["ocr.recognize:succeeded", "notifications.deliver:failed"]
        delivery = Delivery.objects.get()
        assert delivery.status == Delivery.Status.RETRYING
        assert delivery.next_attempt_at is not None
        assert billed(acme_on, "webhooks") == 0
        failed_job = Job.objects.get(capability="notifications")
        assert "Attempt 1 of 5 failed: HTTP 500" in failed_job.error
        assert retries == [
            {"delivery": delivery.pk, "attempt": 2, "countdown": 30, "queue": "cap.notifications"}
        ]

        # The countdown ends: the retry task queues attempt 2 as a new job.
        assert actions.start_attempt(delivery.pk, 2) is not None
        assert run_queued() == ["notifications.deliver:succeeded"]

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert [(a.number, a.status_code, a.succeeded) for a in delivery.attempts.all()] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert len(receiver.received) == 2
    ids = {call.headers[channels.DELIVERY_HEADER] for call in receiver.received}
    assert ids == {str(delivery.pk)}  # the receiver can drop a duplicate by this id
    assert billed(acme_on, "webhooks") == 1
    assert len(retries) == 1


def test_a_receiver_past_the_timeout_is_a_failed_attempt(alice, acme_on, run_queued, retries):
    with webhook_receiver([200], sleep=2.0) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
    attempt = Delivery.objects.get().attempts.get()
    assert not attempt.succeeded and attempt.status_code is None
    assert attempt.error.startswith("Timed out")
    assert Delivery.objects.get().status == Delivery.Status.RETRYING
    assert billed(acme_on, "webhooks") == 0


def test_a_message_that_never_gets_through_is_never_billed(alice, acme_on, run_queued, retries):
    with webhook_receiver([500]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
        for attempt in range(2, 6):
            actions.start_attempt(Delivery.objects.get().pk, attempt)
            assert run_queued() == ["notifications.deliver:failed"]
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 5 and delivery.attempts.count() == 5
    assert [retry["countdown"] for retry in retries] == [30, 120, 600, 3600]  # none after the fifth
    assert len(receiver.received) == 5
    assert "Not retried" in Job.objects.filter(capability="notifications").order_by("pk").last().error
    assert billed(acme_on, "webhooks") == 0
    assert actions.start_attempt(delivery.pk, 6) is None


def test_a_duplicated_retry_sends_and_bills_once(alice, acme_on, run_queued, retries):
    with webhook_receiver([500, 200]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
        delivery = Delivery.objects.get()
        # The broker hands the retry out twice: the second finds attempt 2's job queued.
        first = actions.start_attempt(delivery.pk, 2)
        assert first is not None
        assert actions.start_attempt(delivery.pk, 2) is None
        # Two jobs for attempt 2 all the same (one queued by hand): the claim
        # lets one send.
        second = start_job(None, acme_on, "notifications", kind="deliver", job_input=first.input)
        assert run_queued() == ["notifications.deliver:succeeded", "notifications.deliver:succeeded"]
    assert len(receiver.received) == 2  # attempt 1 and one attempt 2
    assert Job.objects.get(pk=second.pk).result == {"delivery": delivery.pk, "attempt": 2, "sent": False}
    assert billed(acme_on, "webhooks") == 1


def test_a_retry_whose_message_was_lost_is_queued_by_the_sweep(alice, acme_on, run_queued, retries, settings):
    """The retry's countdown message never arrives (Redis lost it, or a worker
    died holding it): once it is JOB_REQUEUE_GRACE late, beat's sweep queues
    the attempt; the message arriving after all then finds it taken."""
    with webhook_receiver([500, 200]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
        delivery = Delivery.objects.get()
        due = delivery.next_attempt_at
        grace = timedelta(seconds=settings.JOB_REQUEUE_GRACE)
        assert retries and delivery.status == Delivery.Status.RETRYING  # scheduled, never sent

        assert actions.send_overdue_retries(now=due) == 0  # the countdown may still come
        assert actions.send_overdue_retries(now=due + grace - timedelta(seconds=1)) == 0
        assert actions.send_overdue_retries(now=due + grace) == 1
        assert actions.send_overdue_retries(now=due + grace) == 0  # queued once
        assert actions.start_attempt(delivery.pk, 2) is None  # the late message
        assert run_queued() == ["notifications.deliver:succeeded"]
        assert actions.send_overdue_retries(now=due + 10 * grace) == 0

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert [(a.number, a.status_code) for a in delivery.attempts.all()] == [(1, 500), (2, 200)]
    assert len(receiver.received) == 2
    assert billed(acme_on, "webhooks") == 1


def test_an_attempt_already_queued_takes_no_place_in_the_sweeps_batch(
    alice, acme_on, run_queued, retries, settings, monkeypatch
):
    """Overdue deliveries whose attempt waits queued (its capability held,
    say) are not what the sweep is for: they must not fill its batch, or the
    lost retries behind them would never be reached."""
    monkeypatch.setattr(actions, "RETRY_SWEEP_BATCH", 1)
    with webhook_receiver([500, 500]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
        waiting, lost = Delivery.objects.order_by("next_attempt_at", "pk")
        assert actions.start_attempt(waiting.pk, 2) is not None  # its job waits in the queue
        later = lost.next_attempt_at + timedelta(seconds=settings.JOB_REQUEUE_GRACE)
        assert actions.send_overdue_retries(now=later) == 1
        assert actions.send_overdue_retries(now=later) == 0
    attempts = Job.objects.filter(capability="notifications", kind="deliver", input__attempt=2)
    assert sorted(job.input["delivery"] for job in attempts) == sorted([waiting.pk, lost.pk])


def test_the_sweep_gives_up_a_lost_retry_of_a_switched_off_capability(
    alice, acme_on, run_queued, retries, settings
):
    with webhook_receiver([500]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
        switch_off(alice, acme_on, "notifications")
        later = Delivery.objects.get().next_attempt_at + timedelta(seconds=settings.JOB_REQUEUE_GRACE)
        assert actions.send_overdue_retries(now=later) == 0
        assert run_queued() == []
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("Not retried:") and "switched off" in delivery.last_error
    assert len(receiver.received) == 1


def test_beat_sweeps_lost_retries_as_often_as_lost_jobs(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-send-overdue-retries"]
    assert entry == {"task": "notifications.send_overdue_retries", "schedule": settings.JOB_SWEEP_INTERVAL}
    assert "notifications.send_overdue_retries" in current_app.tasks


def test_a_deliver_job_run_again_after_it_delivered_bills_once(alice, acme_on, run_queued, retries):
    """The worker died after sending, before the runner recorded the outcome:
    the message comes back and the job runs again. It does not send again and
    its usage key keeps the count at one."""
    with webhook_receiver([200]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
        deliver_job = Job.objects.get(capability="notifications")
        Job.objects.filter(pk=deliver_job.pk).update(status=Job.Status.RUNNING)
        _run(deliver_job.pk)
    assert len(receiver.received) == 1
    assert billed(acme_on, "webhooks") == 1


def test_rules_do_not_fire_while_notifications_are_off(alice, acme_on, run_queued, retries):
    with webhook_receiver([200]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        switch_off(alice, acme_on, "notifications")
        _ocr_job(alice, acme_on)
        assert run_queued() == ["ocr.recognize:succeeded"]
    assert receiver.received == []
    assert Delivery.objects.count() == 0


def test_switching_off_between_attempts_stops_the_retries(alice, acme_on, run_queued, retries):
    with webhook_receiver([500]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
        switch_off(alice, acme_on, "notifications")
        assert actions.start_attempt(Delivery.objects.get().pk, 2) is None
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert "Notifications is switched off" in delivery.last_error
    assert len(receiver.received) == 1


def test_a_delivery_whose_job_is_refused_fails_instead_of_waiting_for_ever(
    alice, acme_on, run_queued, retries, django_capture_on_commit_callbacks
):
    """Notifications switched off after the deliver job was queued: the runner
    refuses the job, and the delivery ends failed, saying why; nothing is sent
    or billed."""
    with webhook_receiver([200]) as receiver:
        _webhook_rule(alice, acme_on, receiver.url)
        ocr = _ocr_job(alice, acme_on)
        with django_capture_on_commit_callbacks(execute=True):
            assert _run(ocr.pk) == Job.Status.SUCCEEDED  # the rule fires: a deliver job is queued
        assert Delivery.objects.get().status == Delivery.Status.PENDING
        switch_off(alice, acme_on, "notifications")
        assert run_queued() == ["notifications.deliver:skipped"]
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("Not sent:") and "switched off" in delivery.last_error
    assert receiver.received == []
    assert billed(acme_on, "webhooks") == 0


def test_a_rule_deleted_before_the_retry_stops_it(alice, acme_on, run_queued, retries):
    with webhook_receiver([500]) as receiver:
        rule = _webhook_rule(alice, acme_on, receiver.url)
        _ocr_job(alice, acme_on)
        run_queued()
        actions.delete_rule(alice, rule)
        actions.start_attempt(Delivery.objects.get().pk, 2)
        assert run_queued() == ["notifications.deliver:failed"]
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED and delivery.rule is None
    assert len(receiver.received) == 1
    assert billed(acme_on, "webhooks") == 0


def test_email_rules_send_through_the_email_backend(alice, acme_on, run_queued, retries):
    actions.create_rule(
        alice, acme_on, capability="ocr", event=Rule.Event.FAILED, channel="email", target="ops@acme.test"
    )
    job = _ocr_job(alice, acme_on, fail=True)
    run_queued()
    [message] = mail.outbox
    assert message.to == ["ops@acme.test"]
    assert message.subject == f"[Switchboard] Text recognition job #{job.pk} failed"
    assert "The scan was unreadable." in message.body
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
    assert billed(acme_on, "emails") == 1


def test_an_unreachable_mail_server_is_a_failed_attempt(alice, acme_on, run_queued, retries, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    _ocr_job(alice, acme_on)
    run_queued()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.RETRYING
    assert delivery.attempts.get().error.startswith("The mail server refused or failed")
    assert billed(acme_on, "emails") == 0


def test_test_send_is_a_real_delivery(alice, acme_on, run_queued, retries):
    with webhook_receiver([200]) as receiver:
        rule = _webhook_rule(alice, acme_on, receiver.url)
        delivery = actions.send_test(alice, rule)
        assert run_queued() == ["notifications.deliver:succeeded"]
    assert json.loads(receiver.received[0].body)["event"] == "test"
    assert receiver.received[0].headers[channels.EVENT_HEADER] == "test"
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert billed(acme_on, "webhooks") == 1


def test_private_addresses_are_refused_when_not_allowed(
    alice, acme_on, run_queued, retries, capability_settings
):
    with webhook_receiver([200]) as receiver:
        rule = _webhook_rule(alice, acme_on, receiver.url)  # saved while allowed (quickstart)
        capability_settings("notifications", ALLOW_PRIVATE_TARGETS=False)
        with pytest.raises(Exception, match="private, loopback or reserved"):
            _webhook_rule(alice, acme_on, receiver.url)
        with pytest.raises(Exception, match="private, loopback or reserved"):
            _webhook_rule(alice, acme_on, "http://169.254.169.254/latest/meta-data")
        # Checked again before each call: no retry can help.
        actions.send_test(alice, rule)
        assert run_queued() == ["notifications.deliver:failed"]
    assert receiver.received == []
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert "private, loopback or reserved" in delivery.attempts.get().error
    assert retries == []


def test_a_broken_receiver_does_not_touch_the_job(alice, acme_on, run_queued, retries, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("notifications bug")

    monkeypatch.setattr(actions, "notify_job_finished", broken)
    actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    job = _ocr_job(alice, acme_on)
    assert run_queued() == ["ocr.recognize:succeeded"]
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


def test_signatures_fail_on_a_changed_body_or_an_old_timestamp():
    body = b'{"event":"test"}'
    header = channels.signature_header("whsec_x", 1_000_000, body)
    assert channels.verify("whsec_x", header, body, now=1_000_010)
    assert not channels.verify("whsec_x", header, body + b" ", now=1_000_010)
    assert not channels.verify("whsec_y", header, body, now=1_000_010)
    assert not channels.verify("whsec_x", header, body, now=1_000_000 + 301)
    assert not channels.verify("whsec_x", "v1=abc", body)


def test_a_deliver_job_runs_four_statements(alice, acme_on, run_queued, django_assert_max_num_queries):
    """Issue 20: claim the job, claim the attempt (reading the delivery and its
    rule's secret), record the attempt, record the result: one statement each."""
    with webhook_receiver([200, 200]) as receiver:
        rule = _webhook_rule(alice, acme_on, receiver.url)
        actions.send_test(alice, rule)
        run_queued()  # the first warms this process's snapshots
        delivery = actions.send_test(alice, rule)
        job = Job.objects.get(capability="notifications", status=Job.Status.QUEUED)

        with django_assert_max_num_queries(4):
            assert _run(job.pk) == Job.Status.SUCCEEDED

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert [(a.number, a.succeeded, a.status_code) for a in delivery.attempts.all()] == [(1, True, 200)]
    assert billed(acme_on, "webhooks") == 2
