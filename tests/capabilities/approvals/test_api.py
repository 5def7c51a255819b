"""The capability requests API: asking, listing with filters, approving and
declining, and every bad input a client can send."""

from __future__ import annotations

from datetime import timedelta

import pytest
from drf_spectacular.generators import SchemaGenerator

from capabilities.approvals.models import CapabilityRequest
from portal.actions.api_keys import create_api_key
from tests.capabilities.state import api_key_client, enabled_in
from tests.metering.usage_data import NOW

REQUESTS = "/api/v1/capability-requests/"


def approve_url(request_id: int) -> str:
    return f"{REQUESTS}{request_id}/approve"


def decline_url(request_id: int) -> str:
    return f"{REQUESTS}{request_id}/decline"


def post(client, url: str, payload: dict | None = None):
    return client.post(url, payload or {}, content_type="application/json")


@pytest.fixture
def bobs_request(client_for, bob) -> CapabilityRequest:
    answer = post(client_for(bob), REQUESTS, {"capability": "glossary", "reason": "Shared terms"})
    assert answer.status_code == 201, answer.content
    return CapabilityRequest.objects.get(pk=answer.json()["id"])


def test_bob_asks_and_alice_approves_with_a_note(client_for, acme, alice, bob, bobs_request):
    listed = client_for(bob).get(REQUESTS).json()["results"]
    assert [(row["capability"], row["status"], row["requested_by"]) for row in listed] == [
        ("glossary", "pending", "bob@acme.test")
    ]

    answer = post(client_for(alice), approve_url(bobs_request.pk), {"note": "Enjoy"})

    assert answer.status_code == 200
    body = answer.json()
    assert (
        body["status"] == "approved" and body["decided_by"] == "alice@acme.test" and body["note"] == "Enjoy"
    )
    assert enabled_in(acme) == {"glossary"}


def test_decline_with_a_manage_key(client_for, acme, alice, bobs_request):
    _, secret = create_api_key(alice, acme, name="ops", scope="manage")

    answer = post(api_key_client(secret), decline_url(bobs_request.pk), {"note": "Later"})

    assert answer.status_code == 200 and answer.json()["status"] == "declined"
    assert enabled_in(acme) == set()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"capability": "teleport", "reason": "please"}, "capability"),
        ({"capability": "glossary", "reason": ""}, "reason"),
        ({"capability": "glossary"}, "reason"),
        ({"reason": "x"}, "capability"),
        ({"capability": "glossary", "reason": "x", "enabled": "maybe"}, "enabled"),
    ],
    ids=["unknown-capability", "blank-reason", "no-reason", "no-capability", "bad-enabled"],
)
def test_bad_requests_answer_400_with_the_field(client_for, bob, payload, field):
    answer = post(client_for(bob), REQUESTS, payload)

    assert answer.status_code == 400
    assert field in str(answer.json())
    assert not CapabilityRequest.objects.exists()


def test_unknown_capability_says_so(client_for, bob):
    answer = post(client_for(bob), REQUESTS, {"capability": "teleport", "reason": "please"})
    assert "No capability 'teleport' is installed." in str(answer.json())


def test_asking_twice_is_a_conflict(client_for, bob, carol, bobs_request):
    answer = post(client_for(carol), REQUESTS, {"capability": "glossary", "reason": "me too"})
    assert answer.status_code == 409 and answer.json()["code"] == "already_requested"


def test_approving_ones_own_request_is_forbidden(client_for, acme, alice):
    client = client_for(alice)
    client.post("/settings/approvals/", {"cost_limit": "10"})
    asked = post(client, REQUESTS, {"capability": "ocr", "reason": "Archive"})
    assert asked.status_code == 201 and asked.json()["why"] == "cost_limit"

    answer = post(client, approve_url(asked.json()["id"]))

    assert answer.status_code == 403 and answer.json()["code"] == "own_request"
    assert enabled_in(acme) == set()


def test_approving_twice_is_a_conflict(client_for, acme, alice, dan, bobs_request):
    assert post(client_for(alice), approve_url(bobs_request.pk)).status_code == 200

    again = post(client_for(dan), approve_url(bobs_request.pk))

    assert again.status_code == 409 and again.json()["code"] == "already_decided"
    assert post(client_for(dan), decline_url(bobs_request.pk)).status_code == 409


def test_approving_an_expired_request_is_a_conflict(client_for, acme, alice, bobs_request):
    CapabilityRequest.objects.filter(pk=bobs_request.pk).update(expires_at=NOW - timedelta(days=1))

    answer = post(client_for(alice), approve_url(bobs_request.pk))

    assert answer.status_code == 409 and answer.json()["code"] == "request_expired"
    assert enabled_in(acme) == set()
    listed = client_for(alice).get(REQUESTS, {"status": "decided"}).json()["results"]
    assert [row["status"] for row in listed] == ["expired"]


def test_a_foreign_tenants_request_is_not_found(client_for, gina, bobs_request):
    for url in (approve_url(bobs_request.pk), decline_url(bobs_request.pk)):
        assert post(client_for(gina), url).status_code == 404
    assert client_for(gina).get(REQUESTS).json()["results"] == []
    assert CapabilityRequest.objects.get().status == "pending"


def test_a_member_cannot_decide(client_for, carol, bob, bobs_request):
    answer = post(client_for(carol), approve_url(bobs_request.pk))
    assert answer.status_code == 403


def test_a_switch_that_cant_be_carried_out_is_a_conflict_and_waits(client_for, force, acme, alice, bob, ivan):
    asked = post(client_for(bob), REQUESTS, {"capability": "summaries", "reason": "Digests"}).json()
    force(ivan, acme, "ocr", enabled=False, reason="Contract ended")

    answer = post(client_for(alice), approve_url(asked["id"]))

    assert answer.status_code == 409 and answer.json()["code"] == "capability_locked"
    assert "Text recognition is locked off by your platform administrator" in answer.json()["detail"]
    assert CapabilityRequest.objects.get().status == "pending"


def test_the_list_filters_pending_and_decided(client_for, alice, bob, bobs_request):
    client = client_for(alice)
    assert len(client.get(REQUESTS, {"status": "pending"}).json()["results"]) == 1
    assert client.get(REQUESTS, {"status": "decided"}).json()["results"] == []
    bad = client.get(REQUESTS, {"status": "someday"})
    assert bad.status_code == 400 and "status" in str(bad.json())


def test_the_toggle_api_answers_approval_required_under_the_rule(client_for, acme, alice, ivan):
    client_for(ivan).post(
        f"/manage/organizations/{acme.slug}/approvals/",
        {"approvals-every_switch_on": "on", "approvals-reason": "Audit season"},
    )

    answer = client_for(alice).put(
        "/api/v1/capabilities/glossary/toggle", {"enabled": True}, content_type="application/json"
    )

    assert answer.status_code == 409
    assert answer.json()["code"] == "approval_required" and answer.json()["why"] == "tenant_rule"
    assert enabled_in(acme) == set()


def test_the_endpoints_are_in_the_openapi_document():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/capability-requests/"])
    assert "post" in paths["/api/v1/capability-requests/{request_id}/approve"]
    assert "post" in paths["/api/v1/capability-requests/{request_id}/decline"]
