"""Platform alerts: raised once per organization and key, even by many
processes at the same moment; emailed once to owners and billing members;
in the organization's activity; rolled back with what raised them."""

from __future__ import annotations

import socket
import threading

import pytest
from django.db import connection, transaction

from portal import alerts
from portal.models import Alert, AuditEntry


def _raise(organization, key="budget:1:80:2026-12", **overrides):
    fields = {
        "key": key,
        "kind": Alert.Kind.BUDGET,
        "title": "80 % of the monthly budget used",
        "message": "Acme has used $80.00 of its $100.00 budget for December.",
        "url": "/usage/",
    }
    fields.update(overrides)
    return alerts.raise_alert(organization, **fields)


def test_an_alert_is_raised_once_per_key(acme, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        first = _raise(acme)
        again = _raise(acme)
    assert first is not None and again is None
    assert Alert.objects.filter(organization=acme).count() == 1
    entry = AuditEntry.objects.get(action="alert.raised")
    assert entry.organization == acme and entry.details["key"] == "budget:1:80:2026-12"


def test_the_same_key_in_another_organization_is_another_alert(acme, globex):
    assert _raise(acme) is not None
    assert _raise(globex) is not None


def test_an_alert_rolls_back_with_what_raised_it(acme):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        _raise(acme)
        1 / 0  # noqa: B018
    assert not Alert.objects.exists()
    assert _raise(acme) is not None


@pytest.mark.django_db(transaction=True)
def test_racing_processes_raise_it_once(acme):
    # Eight threads, each with its own connection, raise the same alert at
    # once (a barrier lines them up); the unique constraint lets one through.
    barrier = threading.Barrier(8)
    raised = []

    def contender() -> None:
        try:
            barrier.wait(timeout=60)
            with transaction.atomic():
                raised.append(_raise(acme))
        finally:
            connection.close()

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(raised) == 8
    assert len([alert for alert in raised if alert is not None]) == 1
    assert Alert.objects.count() == 1
    assert AuditEntry.objects.filter(action="alert.raised").count() == 1


def test_it_is_emailed_once_to_owners_and_billing_members(acme, alice, bob, carol, gina, mailoutbox):
    alert = _raise(acme)
    assert alerts.deliver(alert.pk) is True
    assert alerts.deliver(alert.pk) is False  # a second delivery of the task sends nothing
    (email,) = mailoutbox
    assert sorted(email.to) == ["alice@acme.test", "carol@acme.test"]  # not bob (member), not gina (globex)
    assert email.subject == "[Acme Corp] 80 % of the monthly budget used"
    assert "used $80.00 of its $100.00 budget" in email.body
    assert "http://127.0.0.1:8000/usage/" in email.body
    alert.refresh_from_db()
    assert alert.emailed_at is not None and alert.emailed_to == ["alice@acme.test", "carol@acme.test"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once closed


def test_a_failed_email_is_sent_again_by_the_safety_net(acme, alice, mailoutbox, settings):
    alert = _raise(acme)
    locmem = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _closed_port(), 5
    assert alerts.deliver(alert.pk) is False  # the mail server refused the connection
    alert.refresh_from_db()
    assert alert.emailed_at is None
    settings.EMAIL_BACKEND = locmem
    Alert.objects.filter(pk=alert.pk).update(raised_at=alert.raised_at.replace(year=2020))
    assert alerts.deliver_pending() == 1
    assert len(mailoutbox) == 1


def test_the_banner_shows_the_last_week(acme):
    recent = _raise(acme, key="a")
    old = _raise(acme, key="b")
    Alert.objects.filter(pk=old.pk).update(raised_at=old.raised_at.replace(year=2020))
    assert list(alerts.open_alerts(acme)) == [recent]
