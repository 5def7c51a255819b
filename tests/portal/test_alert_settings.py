"""The organization's settings page: its owners and admins set the alerts
webhook (bad input gets a clear error), see the signing secret once, rotate
it, remove the webhook, and see how the last call went."""

from __future__ import annotations

import html

import pytest

from portal import alerts
from portal.actions.alerts import set_alert_webhook
from portal.models import Alert, AlertWebhook, AuditEntry, Role
from tests.capabilities.notifications.receiver import webhook_receiver
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.ALERT_WEBHOOK_CONNECT_TIMEOUT = 2.0
    settings.ALERT_WEBHOOK_READ_TIMEOUT = 5.0
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def _page(response) -> str:
    return html.unescape(response.content.decode())


def test_an_owner_saves_a_webhook_and_sees_its_secret_once(client_for, acme, alice):
    client = client_for(alice)
    assert "Save webhook" in _page(client.get("/settings/"))
    response = client.post("/settings/", {"url": "http://127.0.0.1:9/alerts"})
    assert response.status_code == 302 and response["Location"] == "/settings/"
    webhook = AlertWebhook.objects.get(organization=acme)
    assert webhook.url == "http://127.0.0.1:9/alerts" and webhook.secret.startswith("whsec_")
    first = _page(client.get("/settings/"))
    assert webhook.secret in first and "Copy the signing secret now" in first
    again = _page(client.get("/settings/"))
    assert webhook.secret not in again and "http://127.0.0.1:9/alerts" in again
    entry = AuditEntry.objects.get(action="alert_webhook.created")
    assert entry.actor == alice and entry.organization == acme
    assert webhook.secret not in str(entry.details)


def test_an_admin_may_set_it_too(client_for, acme):
    dave = MembershipFactory(organization=acme, role=Role.ADMIN).user
    assert client_for(dave).post("/settings/", {"url": "http://127.0.0.1:9/a"}).status_code == 302
    assert AlertWebhook.objects.filter(organization=acme).exists()


@pytest.mark.parametrize("person", ["bob", "carol"])
def test_members_and_billing_people_may_not(client_for, acme, person, request):
    client = client_for(request.getfixturevalue(person))
    assert client.get("/settings/").status_code == 403
    assert client.post("/settings/", {"url": "http://127.0.0.1:9/a"}).status_code == 403
    assert client.post("/settings/alerts-webhook/rotate/").status_code == 403
    assert client.post("/settings/alerts-webhook/remove/").status_code == 403
    assert not AlertWebhook.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Give the URL that should receive your alerts."),
        ("hooks.example.com", "is not a valid webhook URL"),
        ("ftp://hooks.example.com/x", "is not a valid webhook URL"),
        ("javascript:alert(1)", "is not a valid webhook URL"),
        ("https://" + "a" * 500 + ".test/", "Keep the URL under 500 characters."),
        ("https://no-such-host.invalid/hook", "could not be resolved"),
    ],
)
def test_bad_urls_get_a_clear_error(client_for, acme, alice, url, message):
    response = client_for(alice).post("/settings/", {"url": url})
    assert response.status_code == 400
    assert message in _page(response)
    assert not AlertWebhook.objects.exists()


def test_a_private_address_is_refused_in_production(client_for, acme, alice, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = client_for(alice).post("/settings/", {"url": "http://127.0.0.1:9/alerts"})
    assert response.status_code == 400
    assert "127.0.0.1 resolves to 127.0.0.1, a private, loopback or reserved address" in _page(response)
    assert not AlertWebhook.objects.exists()


def test_changing_the_url_keeps_the_secret_and_shows_none(client_for, acme, alice):
    _, secret = set_alert_webhook(alice, acme, url="http://127.0.0.1:9/a")
    client = client_for(alice)
    client.post("/settings/", {"url": "http://127.0.0.1:9/b"})
    page = _page(client.get("/settings/"))
    assert secret not in page and "http://127.0.0.1:9/b" in page
    assert AlertWebhook.objects.get().secret == secret
    assert AuditEntry.objects.get(action="alert_webhook.changed").details == {
        "from": "http://127.0.0.1:9/a",
        "to": "http://127.0.0.1:9/b",
    }


def test_rotating_the_secret_shows_the_new_one_once(client_for, acme, alice):
    _, secret = set_alert_webhook(alice, acme, url="http://127.0.0.1:9/a")
    client = client_for(alice)
    assert client.post("/settings/alerts-webhook/rotate/").status_code == 302
    rotated = AlertWebhook.objects.get().secret
    assert rotated != secret
    assert rotated in _page(client.get("/settings/"))
    assert rotated not in _page(client.get("/settings/"))
    assert AuditEntry.objects.filter(action="alert_webhook.secret_rotated", actor=alice).count() == 1


def test_rotating_without_a_webhook_says_so(client_for, acme, alice):
    response = client_for(alice).post("/settings/alerts-webhook/rotate/", follow=True)
    assert "There is no alerts webhook to rotate the secret of" in _page(response)


def test_removing_the_webhook(client_for, acme, alice):
    set_alert_webhook(alice, acme, url="http://127.0.0.1:9/a")
    response = client_for(alice).post("/settings/alerts-webhook/remove/", follow=True)
    assert "Alerts webhook removed" in _page(response)
    assert not AlertWebhook.objects.exists()
    assert AuditEntry.objects.filter(action="alert_webhook.removed").count() == 1


def test_the_page_shows_how_the_last_call_went(client_for, acme, alice):
    client = client_for(alice)
    with webhook_receiver([503, 200]) as receiver:
        set_alert_webhook(alice, acme, url=receiver.url)
        assert "No alert has been sent to it yet." in _page(client.get("/settings/"))
        alert = alerts.raise_alert(acme, key="k", kind=Alert.Kind.BUDGET, title="Budget at 80 %", message="m")
        alerts.deliver_webhook(alert.pk)
        page = _page(client.get("/settings/"))
        assert "Retrying" in page and "HTTP 503: not a 2xx answer." in page
        Alert.objects.filter(pk=alert.pk).update(webhook_due_at=alert.raised_at)
        alerts.deliver_webhook(alert.pk)
        page = _page(client.get("/settings/"))
        assert "Delivered" in page and "“Budget at 80 %”" in page and "after 2 attempts" in page


def test_a_call_given_up_shows_as_failed(client_for, acme, alice, settings):
    set_alert_webhook(alice, acme, url="http://127.0.0.1:9/a")
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS = False  # now refused: not retried
    alert = alerts.raise_alert(acme, key="k", kind=Alert.Kind.BUDGET, title="Budget at 80 %", message="m")
    alerts.deliver_webhook(alert.pk)
    page = _page(client_for(alice).get("/settings/"))
    assert "Failed" in page and "No more attempts are made" in page


def test_the_settings_link_is_in_the_navigation_of_owners_and_admins_only(client_for, acme, alice, bob):
    assert 'href="/settings/"' in client_for(alice).get("/members/").content.decode()
    assert 'href="/settings/"' not in client_for(bob).get("/members/").content.decode()
