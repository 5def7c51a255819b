"""The notifications pages: rules (owners and admins), the form's messages on
bad input, test sends, deliveries with attempts; outsiders get 404 and a
switched-off capability 403."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from capabilities.actions import set_capability_enabled
from capabilities.models import Job
from capabilities.notifications import actions
from capabilities.notifications.models import Attempt, Delivery, Rule
from tests.capabilities.test_job_pages import job_rows

pytestmark = pytest.mark.django_db


def _post_rule(client, **fields):
    data = {"capability": "ocr", "event": "both", "channel": "webhook", "target": "http://127.0.0.1:9/hook"}
    return client.post(reverse("notifications:rule_create"), {**data, **fields})


def test_an_owner_creates_a_webhook_rule_and_sees_its_secret(alice, acme_on, client_for):
    client = client_for(alice)
    response = _post_rule(client)
    assert response.status_code == 302
    rule = Rule.objects.get()
    assert (rule.organization, rule.capability, rule.channel) == (acme_on, "ocr", "webhook")
    assert rule.secret.startswith("whsec_")
    page = client.get(reverse("notifications:index")).content.decode()
    assert "Text recognition" in page and rule.secret in page and "Test send" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"channel": "email", "target": "not-an-address"}, "is not a valid email address"),
        ({"channel": "webhook", "target": "ftp://example.com/x"}, "is not a valid webhook URL"),
        ({"channel": "webhook", "target": "hooks.example.com"}, "is not a valid webhook URL"),
        ({"target": ""}, "This field is required."),
        ({"capability": "notifications"}, "Select a valid choice"),
        ({"event": "sometimes"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(alice, acme_on, client_for, fields, message):
    response = _post_rule(client_for(alice), **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Rule.objects.exists()


def test_a_private_webhook_address_is_refused_in_production_mode(
    alice, acme_on, client_for, capability_settings
):
    capability_settings("notifications", ALLOW_PRIVATE_TARGETS=False)
    response = _post_rule(client_for(alice), target="http://localhost:8000/hook")
    assert response.status_code == 400
    assert "private, loopback or reserved address" in response.content.decode()


def test_members_see_rules_without_secrets_and_cannot_change_them(alice, bob, acme_on, client_for):
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="webhook", target="http://127.0.0.1:9/hook"
    )
    client = client_for(bob)
    page = client.get(reverse("notifications:index")).content.decode()
    assert "http://127.0.0.1:9/hook" in page and rule.secret not in page and "Test send" not in page
    assert _post_rule(client).status_code == 403
    assert client.post(reverse("notifications:rule_delete", args=[rule.pk])).status_code == 403
    assert client.post(reverse("notifications:rule_test", args=[rule.pk])).status_code == 403
    assert Rule.objects.count() == 1


def test_test_send_queues_a_delivery_and_shows_it(alice, acme_on, client_for):
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    client = client_for(alice)
    response = client.post(reverse("notifications:rule_test", args=[rule.pk]))
    delivery = Delivery.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("notifications:delivery", args=[delivery.pk])
    page = client.get(response.url).content.decode()
    assert "Pending" in page and "waiting to start" in page
    assert "cap.notifications" not in page


def test_the_delivery_page_shows_every_attempt(alice, acme_on, client_for):
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="webhook", target="http://127.0.0.1:9/hook"
    )
    delivery = Delivery.objects.create(
        organization=acme_on,
        rule=rule,
        channel="webhook",
        target=rule.target,
        event="test",
        status=Delivery.Status.RETRYING,
        attempt_count=2,
    )
    Attempt.objects.create(
        delivery=delivery, number=1, status_code=500, duration_ms=12, error="HTTP 500: not a 2xx answer."
    )
    Attempt.objects.create(
        delivery=delivery,
        number=2,
        duration_ms=503,
        error="Timed out (limit 1.0s to connect, 0.5s to answer).",
    )
    page = client_for(alice).get(reverse("notifications:delivery", args=[delivery.pk])).content.decode()
    assert "HTTP 500: not a 2xx answer." in page and "Timed out" in page
    assert "12 ms" in page and "503 ms" in page and "Retrying" in page
    partial = client_for(alice).get(
        reverse("notifications:delivery", args=[delivery.pk]), headers={"HX-Request": "true"}
    )
    assert partial.content.decode().lstrip().startswith('<section class="card" id="delivery-status"')


def test_deliveries_list_filters_and_stays_flat_in_queries(
    alice, acme_on, client_for, django_assert_max_num_queries
):
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    for n in range(30):
        Delivery.objects.create(
            organization=acme_on,
            rule=rule,
            channel="email",
            target=rule.target,
            event="test",
            status=Delivery.Status.DELIVERED if n % 2 else Delivery.Status.FAILED,
            payload={"capability": {"key": "ocr"}},
        )
    client = client_for(alice)
    # A fixed number, whatever the rows: the page's own, plus the layout's
    # (the alerts banner for an owner, the capability's degraded mark, and the
    # approval state behind the Requests count, cached: one query when cold).
    with django_assert_max_num_queries(14):
        response = client.get(reverse("notifications:deliveries"))
    assert response.status_code == 200
    assert response.content.decode().count("badge-delivery-") == 25  # first page
    filtered = client.get(reverse("notifications:deliveries"), {"status": "failed"}).content.decode()
    assert "badge-delivery-delivered" not in filtered and "badge-delivery-failed" in filtered


def test_an_outsider_gets_404(alice, gina, acme_on, globex, client_for):
    set_capability_enabled(gina, globex, "notifications", enabled=True)
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    delivery = actions.send_test(alice, rule)
    client = client_for(gina)
    assert client.get(reverse("notifications:delivery", args=[delivery.pk])).status_code == 404
    assert client.post(reverse("notifications:rule_test", args=[rule.pk])).status_code == 404
    assert client.post(reverse("notifications:rule_delete", args=[rule.pk])).status_code == 404
    assert "ops@acme.test" not in client.get(reverse("notifications:index")).content.decode()
    assert Rule.objects.filter(pk=rule.pk).exists()


def test_pages_answer_403_while_notifications_are_off(alice, acme, client_for):
    response = client_for(alice).get(reverse("notifications:index"))
    assert response.status_code == 403
    assert (
        "switched off" in response.content.decode().lower()
        or "capability_disabled" in response.content.decode()
    )


def test_deleting_a_rule_keeps_its_deliveries(alice, acme_on, client_for):
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    actions.send_test(alice, rule)
    response = client_for(alice).post(reverse("notifications:rule_delete", args=[rule.pk]))
    assert response.status_code == 302
    assert not Rule.objects.exists()
    assert Delivery.objects.get().rule is None


def test_an_automatic_delivery_reads_for_a_person(alice, acme_on, client_for):
    """A rule fires after a job: its payload is shown as JSON (not a Python
    dict), and the deliver job is listed as started by Notifications
    (automatic), not by “API”."""
    actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="webhook", target="http://127.0.0.1:9/hook"
    )
    job = Job.objects.create(organization=acme_on, capability="ocr", kind="recognize", status="succeeded")
    [delivery] = actions.notify_job_finished(
        job_id=job.pk, organization_id=acme_on.pk, capability="ocr", status="succeeded"
    )
    client = client_for(alice)

    page = html.unescape(client.get(reverse("notifications:delivery", args=[delivery.pk])).content.decode())
    assert '"test": false' in page
    assert "'test': False" not in page
    assert f'"id": {job.pk}' in page

    deliver_job = Job.objects.get(capability="notifications")
    row = job_rows(client.get("/jobs/?capability=notifications"))[deliver_job.pk]
    assert row.endswith("Notifications (automatic)")
