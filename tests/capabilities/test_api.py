"""The capabilities API: the catalog with this organization's state, switching
through PUT, the history, and the rule that a switched-off capability's own
endpoints answer 403 `capability_disabled`. Callers are people with a session
and organization API keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from capabilities.models import FeatureToggle, ToggleChange
from portal.actions.api_keys import create_api_key
from portal.actions.organizations import suspend_organization
from tests.capabilities.state import TEST_CAPABILITIES, api_key_client, enabled_in, states
from tests.factories import OrganizationFactory
from tests.metering.usage_data import NOW, record

CAPABILITIES = "/api/v1/capabilities/"
SUMMARY_COUNT = "/api/v1/c/summaries/count/"


def toggle_url(key: str) -> str:
    return f"/api/v1/capabilities/{key}/toggle"


def put(client: Client, key: str, payload: dict):
    return client.put(toggle_url(key), payload, content_type="application/json")


def by_key(response) -> dict[str, dict]:
    assert response.status_code == 200, response.content
    return {capability["key"]: capability for capability in response.json()}


@pytest.fixture
def acme_key(alice, acme) -> str:
    _, secret = create_api_key(alice, acme, name="k", scope="manage")
    return secret


@pytest.fixture
def globex_key(gina, globex) -> str:
    _, secret = create_api_key(gina, globex, name="k", scope="manage")
    return secret


# --- the catalog ----------------------------------------------------------------


def test_bob_lists_the_catalog_with_acmes_state_and_prices(client_for, alice, bob, acme, switch):
    switch(alice, acme, "glossary", enabled=True)

    catalog = by_key(client_for(bob).get(CAPABILITIES))

    assert [key for key in catalog if key in TEST_CAPABILITIES] == ["summaries", "ocr", "glossary"]  # order
    assert catalog["ocr"] == {
        "key": "ocr",
        "name": "Text recognition",
        "summary": "Turns scanned pages into text.",
        "category": "Documents",
        "version": "1.0.0",
        "versions": [
            {"version": "1.0.0", "channel": "stable", "notes": "Recognises printed text."},
            {
                "version": "2.0.0",
                "channel": "beta",
                "notes": "A new engine that also reads two-column pages.",
            },
        ],
        "channel": "stable",
        "running_version": "1.0.0",
        "pinned": False,
        "pinned_reason": "",
        "dependencies": [],
        "meters": [
            {
                "key": "pages",
                "unit": "page",
                "aggregation": "sum",
                "unit_price": "0.0100000000",
                "currency": "usd",
                "version": "",
                "base": "",
            },
            # Platform meters every capability has; free unless the capability prices them.
            {
                "key": "api_calls",
                "unit": "API call",
                "aggregation": "sum",
                "unit_price": "0.0000000000",
                "currency": "usd",
                "version": "",
                "base": "",
            },
            {
                "key": "compute_seconds",
                "unit": "second",
                "aggregation": "sum",
                "unit_price": "0.0000000000",
                "currency": "usd",
                "version": "",
                "base": "",
            },
            # Version 2.0.0 (beta) prices pages differently: its jobs' pages are billed here.
            {
                "key": "pages_v2_0_0",
                "unit": "page",
                "aggregation": "sum",
                "unit_price": "0.0050000000",
                "currency": "usd",
                "version": "2.0.0",
                "base": "pages",
            },
        ],
        "enabled": False,
        "locked": False,
        "locked_reason": "",
        "degraded": False,
        "estimate": {"monthly": None, "currency": "usd", "basis": None},  # no use anywhere yet
    }
    assert catalog["summaries"]["dependencies"] == ["ocr"]
    assert catalog["summaries"]["meters"][0]["unit_price"] == "0.0500000000"
    assert catalog["glossary"]["enabled"] is True
    assert [meter["key"] for meter in catalog["glossary"]["meters"]] == ["api_calls", "compute_seconds"]


def test_an_api_key_lists_the_catalog_of_its_organization(ivan, acme, acme_key, force):
    force(ivan, acme, "ocr", enabled=True, reason="Enterprise plan")

    catalog = by_key(api_key_client(acme_key).get(CAPABILITIES))

    assert catalog["ocr"]["enabled"] is True
    assert catalog["ocr"]["locked"] is True
    assert catalog["ocr"]["locked_reason"] == "Enterprise plan"


def test_gina_and_globexs_key_see_globex_state_never_acmes(client_for, alice, gina, acme, globex_key, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    for client in (client_for(gina), api_key_client(globex_key)):
        catalog = by_key(client.get(CAPABILITIES))
        assert not any(capability["enabled"] for capability in catalog.values())


def test_the_catalogs_query_count_does_not_grow_with_history(
    alice, acme, acme_key, switch, django_assert_max_num_queries
):
    for round_ in range(20):
        switch(alice, acme, "summaries", enabled=round_ % 2 == 0, include_related=True)
    client = api_key_client(acme_key)
    client.get(CAPABILITIES)  # the key's last use is written once a minute: not the list's cost

    # the key, the toggles, the degraded capabilities, own use, the peers' medians
    with django_assert_max_num_queries(5):
        assert client.get(CAPABILITIES).status_code == 200


# --- the estimate ---------------------------------------------------------------


@pytest.fixture
def _clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.mark.usefixtures("_clock")
def test_the_catalog_estimates_from_acmes_own_use_else_from_peers(client_for, bob, acme):
    record(acme, 1240, at=NOW - timedelta(days=3))  # 1,240 pages at $0.01
    for _ in range(5):  # five small organizations made summaries; acme never did
        record(
            OrganizationFactory(), 100, capability="summaries", meter="summaries", at=NOW - timedelta(days=2)
        )

    catalog = by_key(client_for(bob).get(CAPABILITIES))

    assert catalog["ocr"]["estimate"] == {"monthly": "12.40", "currency": "usd", "basis": "own_history"}
    assert catalog["summaries"]["estimate"] == {"monthly": "5.00", "currency": "usd", "basis": "peers"}
    assert catalog["glossary"]["estimate"] == {"monthly": None, "currency": "usd", "basis": None}


@pytest.mark.usefixtures("_clock")
def test_gina_never_sees_acmes_figure(client_for, gina, acme):
    record(acme, 1240, at=NOW - timedelta(days=3))

    catalog = by_key(client_for(gina).get(CAPABILITIES))

    assert catalog["ocr"]["estimate"] == {"monthly": None, "currency": "usd", "basis": None}


@pytest.mark.usefixtures("_clock")
def test_switching_on_answers_with_the_estimate(client_for, alice, acme):
    record(acme, 250, at=NOW - timedelta(days=3))

    response = put(client_for(alice), "ocr", {"enabled": True})

    assert response.status_code == 200, response.content
    assert response.json()["capability"]["estimate"] == {
        "monthly": "2.50",
        "currency": "usd",
        "basis": "own_history",
    }


def test_no_credentials_no_catalog(client):
    response = client.get(CAPABILITIES)
    assert response.status_code in (401, 403)


# --- switching ------------------------------------------------------------------


@pytest.mark.parametrize("person", ["alice", "dan"])
def test_owners_and_admins_switch_ocr_on(client_for, cast, dan, acme, person):
    people = {**cast, "dan": dan}

    response = put(client_for(people[person]), "ocr", {"enabled": True, "reason": "x"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["changed"] == {"ocr": True}
    assert body["capability"]["key"] == "ocr" and body["capability"]["enabled"] is True
    assert states(acme)["ocr"] == (True, False)
    change = ToggleChange.objects.get(organization=acme)
    assert change.actor == people[person] and change.reason == "x"


def test_an_api_key_switches_as_the_admin_who_created_it(alice, acme, acme_key):
    response = put(api_key_client(acme_key), "ocr", {"enabled": True, "reason": "ERP sync needs it"})

    assert response.status_code == 200
    assert ToggleChange.objects.get(organization=acme).actor == alice


@pytest.mark.parametrize("person", ["bob", "carol"])
def test_members_and_billing_cannot_switch(client_for, cast, acme, person):
    response = put(client_for(cast[person]), "ocr", {"enabled": True, "reason": "x"})

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert states(acme) == {}


def test_gina_switches_only_globex(client_for, gina, acme, globex):
    assert put(client_for(gina), "glossary", {"enabled": True}).status_code == 200

    assert enabled_in(globex) == {"glossary"}
    assert states(acme) == {}


def test_a_locked_capability_answers_409(client_for, ivan, alice, acme, force):
    force(ivan, acme, "ocr", enabled=False, reason="Contract under review")

    response = put(client_for(alice), "ocr", {"enabled": True, "reason": "x"})

    assert response.status_code == 409
    assert response.json()["code"] == "capability_locked"
    assert "Contract under review" in response.json()["detail"]
    assert states(acme)["ocr"] == (False, True)


def test_summaries_needs_ocr_then_both_switch_with_include_related(client_for, alice, acme):
    client = client_for(alice)

    refused = put(client, "summaries", {"enabled": True, "reason": "Board packs"})
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "Summaries needs Text recognition switched on too.",
        "code": "dependencies_disabled",
        "related": ["ocr"],
    }
    assert enabled_in(acme) == set()

    accepted = put(client, "summaries", {"enabled": True, "reason": "Board packs", "include_related": True})
    assert accepted.status_code == 200
    assert accepted.json()["changed"] == {"summaries": True, "ocr": True}
    assert enabled_in(acme) == {"summaries", "ocr"}


def test_switching_ocr_off_names_summaries(client_for, alice, acme, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    response = put(client_for(alice), "ocr", {"enabled": False})

    assert response.status_code == 409
    assert response.json()["code"] == "dependents_enabled"
    assert response.json()["related"] == ["summaries"]


@pytest.mark.parametrize(
    "payload", [{"enabled": "maybe"}, {}, {"enabled": True, "reason": "x" * 301}, {"enabled": None}]
)
def test_an_invalid_payload_is_400_and_changes_nothing(client_for, alice, acme, payload):
    response = put(client_for(alice), "ocr", payload)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "errors" in response.json()
    assert states(acme) == {}


def test_an_unknown_capability_is_404(client_for, alice):
    client = client_for(alice)

    assert put(client, "retired", {"enabled": True}).status_code == 404
    assert client.get("/api/v1/capabilities/retired/history").status_code == 404
    assert not FeatureToggle.objects.exists()


def test_the_toggle_answers_only_put(client_for, alice):
    client = client_for(alice)
    assert client.get(toggle_url("ocr")).status_code == 405
    assert (
        client.post(toggle_url("ocr"), {"enabled": True}, content_type="application/json").status_code == 405
    )


# --- history --------------------------------------------------------------------


def test_the_history_tells_who_when_and_why_newest_first(client_for, alice, ivan, bob, acme, switch, force):
    switch(alice, acme, "summaries", enabled=True, include_related=True, reason="Board packs")
    force(ivan, acme, "summaries", enabled=False, reason="Contract under review")

    response = client_for(bob).get("/api/v1/capabilities/summaries/history")

    assert response.status_code == 200
    changes = response.json()["results"]
    assert [(c["actor"], c["reason"], c["source"], c["to_enabled"], c["locked"]) for c in changes] == [
        ("ivan@switchboard.test", "Contract under review", "it_admin", False, True),
        ("alice@acme.test", "Board packs", "organization", True, False),
    ]
    assert all(change["at"] for change in changes)


def test_gina_reads_globex_history_never_acmes(client_for, alice, gina, acme, globex_key, switch):
    switch(alice, acme, "ocr", enabled=True, reason="Acme pilot")

    for client in (client_for(gina), api_key_client(globex_key)):
        response = client.get("/api/v1/capabilities/ocr/history")
        assert response.status_code == 200
        assert response.json()["results"] == []


def test_the_historys_query_count_does_not_grow(alice, acme, acme_key, switch, django_assert_max_num_queries):
    for round_ in range(20):
        switch(alice, acme, "ocr", enabled=round_ % 2 == 0, reason=f"round {round_}")
    client = api_key_client(acme_key)
    client.get("/api/v1/capabilities/ocr/history")

    with django_assert_max_num_queries(3):  # the key, the count, the page
        response = client.get("/api/v1/capabilities/ocr/history")
    assert response.json()["count"] == 20


# --- a capability's own endpoints -----------------------------------------------


def test_summaries_endpoint_is_403_capability_disabled_while_off(client_for, bob, acme_key):
    for client in (client_for(bob), api_key_client(acme_key)):
        response = client.get(SUMMARY_COUNT)
        assert response.status_code == 403
        assert response.json()["code"] == "capability_disabled"
        assert response.json()["detail"].startswith("Summaries is switched off for your organization.")


def test_summaries_endpoint_answers_once_switched_on(client_for, alice, bob, acme, acme_key, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    for client in (client_for(bob), api_key_client(acme_key)):
        response = client.get(SUMMARY_COUNT)
        assert response.status_code == 200
        assert response.json() == {"summaries": 0}


def test_globexs_key_gets_no_summaries_that_acme_switched_on(alice, acme, globex_key, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    response = api_key_client(globex_key).get(SUMMARY_COUNT)

    assert response.status_code == 403
    assert response.json()["code"] == "capability_disabled"


# --- suspended organizations ------------------------------------------------------


def test_a_suspended_organizations_key_is_refused(ivan, alice, acme, acme_key, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)
    suspend_organization(ivan, acme, reason="Unpaid invoices")
    client = api_key_client(acme_key)

    for request in (
        lambda: client.get(CAPABILITIES),
        lambda: put(client, "glossary", {"enabled": True}),
        lambda: client.get("/api/v1/capabilities/ocr/history"),
    ):
        response = request()
        assert response.status_code == 403
        assert response.json()["code"] == "organization_suspended"
    assert states(acme)["glossary"] == (False, False)


def test_a_suspended_organization_gets_no_capability_endpoint(
    client_for, ivan, alice, bob, acme, acme_key, switch
):
    switch(alice, acme, "summaries", enabled=True, include_related=True)
    suspend_organization(ivan, acme, reason="Unpaid invoices")

    for client in (api_key_client(acme_key), client_for(bob)):
        response = client.get(SUMMARY_COUNT)
        assert response.status_code == 403
        assert response.json()["code"] == "organization_suspended"
