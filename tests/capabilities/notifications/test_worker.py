"""With a real Celery worker on cap.ocr and cap.notifications: an ocr job
finishes, its rule's webhook answers 500 then 200, the retry comes back
through a Celery countdown, and the message is delivered and billed once; and
when the worker holding that countdown is killed, beat's sweep sends the retry."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.conf import settings

from capabilities import actions as capability_actions
from capabilities.notifications import actions
from capabilities.notifications.models import Delivery
from tests.capabilities.notifications.conftest import billed
from tests.capabilities.notifications.receiver import webhook_receiver
from tests.workers import celery_worker, wait_for, worker_log

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_failed_webhook_is_retried_by_the_worker_and_billed_once(alice, acme):
    capability_actions.set_capability_enabled(alice, acme, "notifications", enabled=True)
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    worker_env = {"NOTIFICATIONS_RETRY_DELAYS": "1,1", "NOTIFICATIONS_READ_TIMEOUT": "5"}
    with (
        webhook_receiver([500, 200]) as receiver,
        celery_worker(queues="cap.ocr,cap.notifications", env=worker_env),
    ):
        actions.create_rule(
            alice, acme, capability="ocr", event="succeeded", channel="webhook", target=receiver.url
        )
        capability_actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
        wait_for(
            lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).exists(), 90, "the delivery"
        )
    delivery = Delivery.objects.get()
    assert [(a.number, a.status_code, a.succeeded) for a in delivery.attempts.order_by("number")] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert len(receiver.received) == 2
    assert billed(acme, "webhooks") == 1


def test_a_retry_held_by_a_killed_worker_is_sent_by_the_sweep(alice, acme):
    """The retry's countdown (an hour here) is held by the worker that is then
    SIGKILLed: the message is out of reach (Redis hands it out again only after
    its visibility timeout), and the sweep queues the attempt once it is late."""
    capability_actions.set_capability_enabled(alice, acme, "notifications", enabled=True)
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    worker_env = {"NOTIFICATIONS_RETRY_DELAYS": "3600,3600", "NOTIFICATIONS_READ_TIMEOUT": "5"}
    with webhook_receiver([500, 200]) as receiver:
        actions.create_rule(
            alice, acme, capability="ocr", event="succeeded", channel="webhook", target=receiver.url
        )
        with celery_worker(queues="cap.ocr,cap.notifications", env=worker_env) as doomed:
            capability_actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
            wait_for(
                lambda: Delivery.objects.filter(status=Delivery.Status.RETRYING).exists(), 90, "attempt 1"
            )
            wait_for(
                lambda: "notifications.retry_delivery" in worker_log(doomed),
                30,
                "the worker to hold the retry",
            )
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait()
        delivery = Delivery.objects.get()
        late = delivery.next_attempt_at + timedelta(seconds=settings.JOB_REQUEUE_GRACE)
        with celery_worker(queues="cap.ocr,cap.notifications", env=worker_env):
            assert actions.send_overdue_retries(now=late) == 1
            wait_for(
                lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).exists(), 90, "the delivery"
            )
    assert [(a.number, a.status_code) for a in delivery.attempts.order_by("number")] == [(1, 500), (2, 200)]
    assert len(receiver.received) == 2
    assert billed(acme, "webhooks") == 1
