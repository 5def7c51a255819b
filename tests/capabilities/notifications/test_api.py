"""The notifications API: rules CRUD, test sends, deliveries with attempts;
403 capability_disabled while off, 404 for outsiders, schema documented."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from capabilities.actions import set_capability_enabled
from capabilities.models import Job
from capabilities.notifications import actions
from capabilities.notifications.models import Attempt, Delivery, Rule
from portal.actions.api_keys import create_api_key

pytestmark = pytest.mark.django_db

RULES = "notifications-api:rule-list"


def _key_client(alice, acme) -> Client:
    _, secret = create_api_key(alice, acme, name="deploy", scope="manage")
    return Client(headers={"Authorization": f"Api-Key {secret}"})


def test_rules_crud_with_an_api_key(alice, acme_on):
    client = _key_client(alice, acme_on)
    created = client.post(
        reverse(RULES),
        {"capability": "ocr", "event": "failed", "channel": "webhook", "target": "http://127.0.0.1:9/h"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["event"] == "failed"
    url = reverse("notifications-api:rule-detail", args=[body["id"]])

    assert client.get(reverse(RULES)).json()["results"][0]["id"] == body["id"]
    changed = client.patch(
        url, {"channel": "email", "target": "ops@acme.test"}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["secret"] is None and Rule.objects.get().target == "ops@acme.test"
    bad = client.patch(url, {"target": "nope"}, content_type="application/json")
    assert bad.status_code == 400 and "is not a valid email address" in bad.json()["errors"]["target"][0]
    assert client.delete(url).status_code == 204
    assert not Rule.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"capability": "ocr", "event": "both", "channel": "email", "target": "x@"}, "target"),
        (
            {"capability": "ocr", "event": "both", "channel": "webhook", "target": "javascript:alert(1)"},
            "target",
        ),
        (
            {"capability": "notifications", "event": "both", "channel": "email", "target": "a@b.test"},
            "capability",
        ),
        ({"capability": "ocr", "event": "maybe", "channel": "email", "target": "a@b.test"}, "event"),
    ],
)
def test_bad_rules_are_refused_by_field(alice, acme_on, client_for, payload, field):
    response = client_for(alice).post(reverse(RULES), payload, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Rule.objects.exists()


def test_members_read_rules_without_secrets_and_cannot_create(alice, bob, acme_on, client_for):
    actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="webhook", target="http://127.0.0.1:9/h"
    )
    client = client_for(bob)
    assert client.get(reverse(RULES)).json()["results"][0]["secret"] is None
    response = client.post(
        reverse(RULES),
        {"capability": "ocr", "event": "both", "channel": "email", "target": "a@b.test"},
        content_type="application/json",
    )
    assert response.status_code == 403


def test_test_send_and_deliveries_with_attempts(alice, acme_on, client_for, django_assert_max_num_queries):
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    client = client_for(alice)
    response = client.post(reverse("notifications-api:rule-test", args=[rule.pk]))
    assert response.status_code == 202
    delivery_id = response.json()["id"]
    for number in (1, 2):
        Attempt.objects.create(delivery_id=delivery_id, number=number, status_code=500, error="HTTP 500")
    for _ in range(20):
        Delivery.objects.create(
            organization=acme_on, rule=rule, channel="email", target=rule.target, event="test"
        )
    with django_assert_max_num_queries(10):
        listed = client.get(reverse("notifications-api:delivery-list"))
    assert listed.json()["count"] == 21
    detail = client.get(reverse("notifications-api:delivery-detail", args=[delivery_id])).json()
    assert [a["number"] for a in detail["attempts"]] == [1, 2] and detail["attempts"][0]["status_code"] == 500
    assert (
        client.get(reverse("notifications-api:delivery-list"), {"status": "delivered"}).json()["count"] == 0
    )


def test_403_capability_disabled_while_off(alice, acme, client_for):
    response = client_for(alice).get(reverse(RULES))
    assert response.status_code == 403
    assert response.json()["code"] == "capability_disabled"


def test_outsiders_get_404(alice, gina, acme_on, globex, client_for):
    set_capability_enabled(gina, globex, "notifications", enabled=True)
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    delivery = actions.send_test(alice, rule)
    client = client_for(gina)
    assert client.get(reverse("notifications-api:rule-detail", args=[rule.pk])).status_code == 404
    assert client.delete(reverse("notifications-api:rule-detail", args=[rule.pk])).status_code == 404
    assert client.post(reverse("notifications-api:rule-test", args=[rule.pk])).status_code == 404
    assert client.get(reverse("notifications-api:delivery-detail", args=[delivery.pk])).status_code == 404
    assert client.get(reverse(RULES)).json()["results"] == []
    assert Rule.objects.filter(pk=rule.pk).exists()


def test_the_schema_documents_the_endpoints():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/c/notifications/rules/"])
    assert {"get", "put", "patch", "delete"} <= set(paths["/api/v1/c/notifications/rules/{rule_id}"])
    assert (
        paths["/api/v1/c/notifications/rules/{rule_id}/test"]["post"]["summary"]
        == "Send a test message for a rule"
    )
    assert "get" in paths["/api/v1/c/notifications/deliveries/{delivery_id}"]


def test_a_test_send_posted_twice_with_one_key_sends_once(alice, acme_on):
    rule = actions.create_rule(
        alice, acme_on, capability="ocr", event="both", channel="email", target="ops@acme.test"
    )
    _, secret = create_api_key(alice, acme_on, name="deploy", scope="manage")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    url = reverse("notifications-api:rule-test", args=[rule.pk])
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="test-send-1")
    assert first.status_code == 202, first.content
    again = client.post(url, HTTP_IDEMPOTENCY_KEY="test-send-1")
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (202, "true", first.content)
    assert Delivery.objects.filter(rule=rule).count() == 1
    assert Job.objects.filter(organization=acme_on, capability="notifications").count() == 1
    assert client.post(url, HTTP_IDEMPOTENCY_KEY="test-send-2").status_code == 202
    assert Delivery.objects.filter(rule=rule).count() == 2
