"""With a real Celery worker: an alert raised in a committed transaction is
emailed and POSTed to the organization's webhook by the task queued after
commit, once, signed; raising it again from another transaction sends
nothing more."""

from __future__ import annotations

import pytest
from django.db import transaction

from portal import alerts, webhooks
from portal.actions.alerts import set_alert_webhook
from portal.models import Alert
from tests.capabilities.notifications.receiver import webhook_receiver
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = 90  # seconds for the worker to start and deliver; a deadline, not a speed check


def _raise(organization) -> Alert | None:
    with transaction.atomic():
        return alerts.raise_alert(
            organization,
            key="budget:1:100:2026-12",
            kind=Alert.Kind.BUDGET,
            level=Alert.Level.DANGER,
            title="Monthly budget used up",
            message="Acme Corp has used its $100.00 budget for December; new jobs are stopped.",
            url="/usage/",
        )


def test_the_worker_emails_and_posts_an_alert_once(acme, alice, carol):
    with webhook_receiver([200]) as receiver, celery_worker(queues="celery"):
        _, secret = set_alert_webhook(alice, acme, url=receiver.url)
        alert = _raise(acme)
        assert alert is not None
        wait_for(
            lambda: Alert.objects.filter(
                pk=alert.pk, webhook_sent_at__isnull=False, emailed_at__isnull=False
            ).exists(),
            WORKER_DEADLINE,
            "the alert's email and webhook",
        )
        assert _raise(acme) is None  # raised already: nothing is queued again
    alert.refresh_from_db()
    assert alert.emailed_to == ["alice@acme.test", "carol@acme.test"]
    assert alert.webhook_attempts == 1
    [call] = receiver.received
    assert webhooks.verify(secret, call.headers[webhooks.SIGNATURE_HEADER], call.body)
