"""The alerts webhook: each alert POSTed once, signed like Notifications'
webhooks (verified here with the receiver's check, against a real HTTP server
on loopback), never again after it was delivered; a failing receiver is tried
again by beat's safety net after the backoff; an address the SSRF rule
refuses is never called."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from portal import alerts, tasks, webhooks
from portal.actions.alerts import remove_alert_webhook, rotate_alert_webhook_secret, set_alert_webhook
from portal.models import Alert, AlertWebhook
from tests.capabilities.notifications.receiver import webhook_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.ALERT_WEBHOOK_CONNECT_TIMEOUT = 2.0
    settings.ALERT_WEBHOOK_READ_TIMEOUT = 5.0
    settings.ALERT_WEBHOOK_RETRY_DELAYS = [60, 300]
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def _raise(organization, key="budget:1:80:2026-12") -> Alert:
    alert = alerts.raise_alert(
        organization,
        key=key,
        kind=Alert.Kind.BUDGET,
        level=Alert.Level.WARNING,
        title="80 % of the monthly budget used",
        message="Acme has used $80.00 of its $100.00 budget for December.",
        url="/usage/",
        data={"budget": 1, "threshold": 80},
    )
    assert alert is not None
    return alert


def _make_due(alert: Alert) -> None:
    """As if the retry's wait were over (tests never wait on the clock)."""
    Alert.objects.filter(pk=alert.pk).update(webhook_due_at=timezone.now() - timedelta(seconds=1))


def test_an_alert_is_posted_once_signed(acme, alice, mailoutbox):
    with webhook_receiver([200]) as receiver:
        webhook, secret = set_alert_webhook(alice, acme, url=receiver.url)
        alert = _raise(acme)
        assert tasks.deliver_alert(alert.pk) is True  # what the task queued at raise time does
        assert tasks.deliver_alert(alert.pk) is False  # a second delivery of the task
        alert.refresh_from_db()
        assert alert.webhook_sent_at is not None and alert.webhook_due_at is None
        _make_due(alert)  # even if the row said it was due again, it was delivered
        assert alerts.deliver_pending(older_than=timedelta(0)) == 0  # beat: nothing left to do
    assert secret and secret == webhook.secret
    [call] = receiver.received
    assert webhooks.verify(secret, call.headers[webhooks.SIGNATURE_HEADER], call.body)
    assert not webhooks.verify("whsec_other", call.headers[webhooks.SIGNATURE_HEADER], call.body)
    assert call.headers[webhooks.EVENT_HEADER] == "alert.raised"
    assert call.headers[webhooks.DELIVERY_HEADER] == f"alert-{alert.pk}"
    assert call.headers["Content-Type"] == "application/json"
    body = json.loads(call.body)
    assert body == {
        "id": alert.pk,
        "kind": "budget",
        "level": "warning",
        "title": "80 % of the monthly budget used",
        "message": "Acme has used $80.00 of its $100.00 budget for December.",
        "url": "http://127.0.0.1:8000/usage/",
        "data": {"budget": 1, "threshold": 80},
        "organization": "acme",
        "raised_at": alert.raised_at.isoformat(),
    }
    alert.refresh_from_db()
    assert (alert.webhook_attempts, alert.webhook_status_code, alert.webhook_last_error) == (1, 200, "")
    assert len(mailoutbox) == 1  # the email went too, once


def test_without_a_webhook_nothing_is_posted(acme, alice):
    alert = _raise(acme)
    assert alert.webhook_due_at is None
    assert alerts.deliver_webhook(alert.pk) is False
    alert.refresh_from_db()
    assert alert.webhook_attempts == 0


def test_a_failing_receiver_is_tried_again_by_beat_with_backoff(acme, alice):
    with webhook_receiver([500, 503, 200]) as receiver:
        set_alert_webhook(alice, acme, url=receiver.url)
        alert = _raise(acme)
        before = timezone.now()
        assert alerts.deliver_webhook(alert.pk) is False
        alert.refresh_from_db()
        assert alert.webhook_attempts == 1 and alert.webhook_status_code == 500
        assert alert.webhook_last_error == "HTTP 500: not a 2xx answer."
        assert alert.webhook_due_at >= before + timedelta(seconds=60)  # the first delay
        assert alerts.deliver_pending(older_than=timedelta(0)) == 1  # the email only: the call is not due
        assert len(receiver.received) == 1

        _make_due(alert)
        before = timezone.now()
        assert alerts.deliver_pending() == 0
        alert.refresh_from_db()
        assert alert.webhook_attempts == 2 and alert.webhook_status_code == 503
        assert alert.webhook_due_at >= before + timedelta(seconds=300)  # the second, longer delay

        _make_due(alert)
        assert alerts.deliver_pending() == 1
        alert.refresh_from_db()
        assert alert.webhook_sent_at is not None and alert.webhook_due_at is None
        assert alert.webhook_attempts == 3
        _make_due(alert)  # even if the row said it was due again, it was delivered
        assert alerts.deliver_pending() == 0
    assert len(receiver.received) == 3
    # The delivery id stays the same across retries, so a receiver can drop duplicates.
    assert {call.headers[webhooks.DELIVERY_HEADER] for call in receiver.received} == {f"alert-{alert.pk}"}


def test_it_gives_up_after_the_last_retry(acme, alice):
    with webhook_receiver([500]) as receiver:
        set_alert_webhook(alice, acme, url=receiver.url)
        alert = _raise(acme)
        alerts.deliver_webhook(alert.pk)
        for _ in range(5):
            _make_due(alert)
            alerts.deliver_pending()
            alert.refresh_from_db()
            if alert.webhook_due_at is None:
                break
    assert len(receiver.received) == 3  # the first attempt and two retries (RETRY_DELAYS)
    assert alert.webhook_sent_at is None and alert.webhook_attempts == 3


def test_an_attempt_in_flight_holds_the_alert(acme, alice):
    """A claimed attempt (its lease not over) keeps beat and a second task
    away; when the lease ends (the worker died), beat takes it up."""
    with webhook_receiver([200]) as receiver:
        set_alert_webhook(alice, acme, url=receiver.url)
        alert = _raise(acme)
        assert alerts._claim_webhook(alert.pk) is True  # a worker took it, then vanished
        assert alerts.deliver_webhook(alert.pk) is False
        assert alerts.deliver_pending() == 0
        _make_due(alert)  # the lease is over
        assert alerts.deliver_pending() == 1
    assert len(receiver.received) == 1


def test_a_refused_address_is_never_called(acme, alice, settings, monkeypatch):
    """In production the SSRF rule refuses loopback: the call is not made
    and not retried (trying again cannot help)."""
    with webhook_receiver([200]) as receiver:
        set_alert_webhook(alice, acme, url=receiver.url)
        settings.ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        alert = _raise(acme)
        assert alerts.deliver_webhook(alert.pk) is False
    assert receiver.received == []
    alert.refresh_from_db()
    assert "private, loopback or reserved address" in alert.webhook_last_error
    assert alert.webhook_due_at is None and alert.webhook_sent_at is None


def test_a_rotated_secret_signs_the_next_call(acme, alice):
    with webhook_receiver([200]) as receiver:
        webhook, first = set_alert_webhook(alice, acme, url=receiver.url)
        second = rotate_alert_webhook_secret(alice, webhook)
        alerts.deliver_webhook(_raise(acme).pk)
    [call] = receiver.received
    assert second != first
    assert webhooks.verify(second, call.headers[webhooks.SIGNATURE_HEADER], call.body)
    assert not webhooks.verify(first, call.headers[webhooks.SIGNATURE_HEADER], call.body)


def test_removing_the_webhook_drops_calls_not_yet_made(acme, alice):
    with webhook_receiver([200]) as receiver:
        webhook, _ = set_alert_webhook(alice, acme, url=receiver.url)
        alert = _raise(acme)
        remove_alert_webhook(alice, webhook)
        assert alerts.deliver_webhook(alert.pk) is False
        assert alerts.deliver_pending(older_than=timedelta(0)) == 1  # the email still goes
    assert receiver.received == []
    assert not AlertWebhook.objects.exists()


def test_changing_the_url_keeps_the_secret(acme, alice):
    webhook, secret = set_alert_webhook(alice, acme, url="https://hooks.acme.test/a")
    again, none = set_alert_webhook(alice, acme, url="https://hooks.acme.test/b")
    assert none is None and again.pk == webhook.pk and again.secret == secret and again.url.endswith("/b")
