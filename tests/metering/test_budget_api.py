"""The budgets API: `GET/POST /api/v1/budgets/`, `GET/PUT/DELETE
/api/v1/budgets/{id}` for owners, admins and billing members (and API keys of
the read or manage scope), with this month's figures; bad input answered 400,
a second budget of a scope 409, a platform cap 403; gina never reaches acme's
budgets; and a capability's metered API answers 402 `budget_exhausted` once a
stop budget is reached."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from capabilities.actions import set_capability_enabled
from metering import actions
from metering.models import Budget
from portal.actions.api_keys import create_api_key
from portal.models import AuditEntry
from tests.metering.usage_data import record

BUDGETS = "/api/v1/budgets/"


def detail(budget_id: int) -> str:
    return f"/api/v1/budgets/{budget_id}"


def key_client(user, organization, scope: str) -> Client:
    _, secret = create_api_key(user, organization, name=f"{scope} key", scope=scope)
    return Client(headers={"Authorization": f"Api-Key {secret}"})


def post(client: Client, body: dict, **headers) -> object:
    return client.post(BUDGETS, body, content_type="application/json", headers=headers)


def test_alice_sets_reads_changes_and_deletes_a_budget(client_for, alice, acme):
    record(acme, 12, at=timezone.now())  # 12 pages of OCR at $0.01: $0.12 this month
    client = client_for(alice)

    created = post(client, {"capability": "ocr", "amount": "0.20", "thresholds": [50, 80, 100]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["capability"] == "ocr"
    assert body["scope"] == "Text recognition"
    assert (body["amount"], body["currency"], body["action"]) == ("0.20", "usd", "stop")
    assert (body["spent"], body["in_flight"], body["remaining"]) == ("0.12", "0.00", "0.08")
    assert body["thresholds"] == [50, 80, 100]
    assert body["state"] == "alerted"  # 60 %: the 50 % alert went out
    assert (body["platform_cap"], body["locked"], body["reason"]) == (False, False, "")

    listed = client.get(BUDGETS).json()
    assert [row["id"] for row in listed] == [body["id"]]
    assert client.get(detail(body["id"])).json()["spent"] == "0.12"

    changed = client.put(
        detail(body["id"]),
        {"capability": "ocr", "amount": "0.10", "action": "stop", "thresholds": []},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["amount"], changed.json()["state"]) == ("0.10", "stopped")
    assert changed.json()["remaining"] == "0.00"

    assert client.delete(detail(body["id"])).status_code == 204
    assert client.get(detail(body["id"])).status_code == 404
    assert list(
        AuditEntry.objects.filter(action__startswith="budget.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["budget.created", "budget.changed", "budget.deleted"]


def test_the_total_budget_defaults_to_stop_and_the_usual_thresholds(client_for, carol):
    response = post(client_for(carol), {"amount": "50"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["capability"], body["scope"], body["amount"]) == (None, "all capabilities", "50.00")
    assert (body["action"], body["thresholds"], body["state"]) == ("stop", [50, 80, 100], "ok")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "fifty"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "1e12"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({}, "amount"),
        ({"amount": "5", "thresholds": [0, 50]}, "thresholds"),
        ({"amount": "5", "thresholds": [101]}, "thresholds"),
        ({"amount": "5", "thresholds": ["half"]}, "thresholds"),
        ({"amount": "5", "action": "pause"}, "action"),
        ({"amount": "5", "capability": "teleport"}, "capability"),
    ],
)
def test_bad_input_gets_400_naming_the_field(client_for, alice, body, field):
    response = post(client_for(alice), body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid"
    assert field in answer["errors"]
    assert not Budget.objects.exists()


def test_messages_say_what_is_wrong(client_for, alice):
    client = client_for(alice)
    assert post(client, {"amount": "-1"}).json()["errors"]["amount"] == ["The amount cannot be negative."]
    unknown = post(client, {"amount": "5", "capability": "teleport"}).json()["errors"]["capability"]
    assert unknown == ["'teleport' is not a capability a budget can cover; use a capability key or null."]


def test_a_second_budget_of_a_scope_is_a_conflict(client_for, alice):
    client = client_for(alice)
    assert post(client, {"capability": "ocr", "amount": "5"}).status_code == 201
    again = post(client, {"capability": "ocr", "amount": "9"})
    assert again.status_code == 409
    assert again.json()["code"] == "budget_exists"
    assert "already has a budget for Text recognition" in again.json()["detail"]


def test_a_platform_cap_is_shown_locked_and_cannot_be_changed(client_for, alice, acme, fiona):
    cap = actions.save_budget(
        fiona, acme, capability=None, amount=Decimal("100.00"), platform=True, reason="Unpaid invoices"
    )
    client = client_for(alice)
    (shown,) = client.get(BUDGETS).json()
    assert (shown["platform_cap"], shown["locked"], shown["reason"]) == (True, True, "Unpaid invoices")

    changed = client.put(detail(cap.pk), {"amount": "500"}, content_type="application/json")
    assert changed.status_code == 403
    assert changed.json()["code"] == "platform_cap_locked"
    deleted = client.delete(detail(cap.pk))
    assert (deleted.status_code, deleted.json()["code"]) == (403, "platform_cap_locked")
    cap.refresh_from_db()
    assert cap.amount == Decimal("100.00")
    # The organization keeps a budget of its own beside the cap.
    assert post(client, {"amount": "50"}).status_code == 201


def test_members_and_use_keys_may_not_read_or_set_budgets(client_for, alice, bob, acme):
    for client in (client_for(bob), key_client(alice, acme, "use")):
        assert client.get(BUDGETS).status_code == 403
        assert post(client, {"amount": "5"}).status_code == 403
    assert not Budget.objects.exists()


def test_keys_read_with_the_read_scope_and_write_with_manage(alice, acme):
    reader = key_client(alice, acme, "read")
    assert reader.get(BUDGETS).status_code == 200
    refused = post(reader, {"amount": "5"})
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    assert post(key_client(alice, acme, "manage"), {"amount": "5"}).status_code == 201


def test_gina_never_reaches_acmes_budgets(client_for, alice, acme, gina, globex):
    acme_budget = actions.save_budget(alice, acme, capability=None, amount=Decimal("42.00"))
    client = client_for(gina)
    assert client.get(BUDGETS).json() == []
    for call in (
        client.get(detail(acme_budget.pk)),
        client.put(detail(acme_budget.pk), {"amount": "1"}, content_type="application/json"),
        client.delete(detail(acme_budget.pk)),
    ):
        assert call.status_code == 404
        assert "42" not in call.content.decode()
    acme_budget.refresh_from_db()
    assert acme_budget.amount == Decimal("42.00")
    # Gina's own total budget is globex's, beside acme's of the same scope.
    assert post(client, {"amount": "42"}).status_code == 201
    assert Budget.objects.get(organization=globex).amount == Decimal("42.00")


def test_a_post_with_an_idempotency_key_sets_one_budget(client_for, alice):
    client = client_for(alice)
    first = post(client, {"amount": "7.50"}, **{"Idempotency-Key": "budget-1"})
    again = post(client, {"amount": "7.50"}, **{"Idempotency-Key": "budget-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert Budget.objects.count() == 1


def test_the_list_costs_the_same_queries_whatever_its_length(
    client_for, alice, acme, django_assert_max_num_queries
):
    client = client_for(alice)
    actions.save_budget(alice, acme, capability=None, amount=Decimal("10"))
    with django_assert_max_num_queries(12) as few:
        client.get(BUDGETS)
    for capability in ("ocr", "summaries", "glossary"):
        actions.save_budget(alice, acme, capability=capability, amount=Decimal("10"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(BUDGETS).json()) == 4


def test_the_schema_documents_the_budget_endpoints(client_for, alice):
    schema = client_for(alice).get("/api/schema/", {"format": "json"}).json()
    assert set(schema["paths"]["/api/v1/budgets/"]) >= {"get", "post"}
    assert set(schema["paths"]["/api/v1/budgets/{budget_id}"]) >= {"get", "put", "delete"}
    request = schema["components"]["schemas"]["BudgetRequestRequest"]["properties"]
    assert request["amount"]["pattern"] == r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


def test_a_metered_capability_api_answers_402_once_a_stop_budget_is_reached(client_for, alice, acme):
    set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    client = client_for(alice)
    assert client.get("/api/v1/c/summaries/count/").status_code == 200
    record(acme, 3, capability="summaries", meter="summaries", at=timezone.now())  # $0.15
    budget = actions.save_budget(alice, acme, capability="summaries", amount=Decimal("0.10"))

    refused = client.get("/api/v1/c/summaries/count/")
    assert refused.status_code == 402
    body = refused.json()
    assert body["code"] == "budget_exhausted"
    assert body["budget"] == {
        "id": budget.pk,
        "capability": "summaries",
        "amount": "0.10",
        "currency": "usd",
        "platform_cap": False,
    }
    assert body["spent"] == "0.15"
    assert body["raised_by"] == "owners, admins and billing members"
    assert "Summaries" in body["detail"]

    # Raised through the API, the stop lifts at once.
    raised = client.put(
        detail(budget.pk), {"capability": "summaries", "amount": "1.00"}, content_type="application/json"
    )
    assert raised.json()["state"] == "ok"
    assert client.get("/api/v1/c/summaries/count/").status_code == 200


def test_a_budget_is_written_as_json(client_for, alice):
    """A form's empty capability would read as null (every capability): forms are refused
    (415, or 400 when the upload limits already parsed the form)."""
    response = client_for(alice).post(BUDGETS, {"capability": "", "amount": "5"})
    assert response.status_code in {400, 415}
    assert not Budget.objects.exists()
