"""The usage API: `GET /api/v1/usage/` grouped as asked for the caller's
organization (finance may name one), and `GET /api/v1/usage/events/` with
cursor pagination and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.actions.api_keys import create_api_key
from tests.metering.usage_data import NOW, record

USAGE = "/api/v1/usage/"
EVENTS = "/api/v1/usage/events/"


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def usage(acme, globex):
    record(acme, 123, at=datetime(2026, 11, 2, 9, 15, tzinfo=UTC))  # $1.23
    record(acme, 7, at=datetime(2026, 11, 2, 17, tzinfo=UTC))  # $0.07
    record(
        acme, 3, capability="summaries", meter="summaries", at=datetime(2026, 11, 4, 9, tzinfo=UTC)
    )  # $0.15
    record(acme, 500, at=datetime(2026, 10, 20, tzinfo=UTC))  # October
    record(globex, 40, at=datetime(2026, 11, 3, tzinfo=UTC))


def key_client(user, organization) -> Client:
    _, secret = create_api_key(user, organization, name="reporting", scope="manage")
    return Client(headers={"Authorization": f"Api-Key {secret}"})


def test_usage_of_the_current_period_by_capability_and_meter(client_for, alice, usage):
    response = client_for(alice).get(USAGE)

    assert response.status_code == 200
    assert response.json() == {
        "organization": "acme",
        "start": "2026-11-01",
        "end": "2026-11-30",
        "group_by": ["capability", "meter"],
        "rows": [
            {
                "capability": "ocr",
                "meter": "pages",
                "unit": "page",
                "quantity": 130,
                "cost": "1.300",
                "currency": "usd",
            },
            {
                "capability": "summaries",
                "meter": "summaries",
                "unit": "summary",
                "quantity": 3,
                "cost": "0.15",
                "currency": "usd",
            },
        ],
        "totals": [{"cost": "1.450", "currency": "usd"}],
    }


def test_group_by_day_and_a_date_range(client_for, carol, usage):
    response = client_for(carol).get(USAGE, {"start": "2026-10-01", "end": "2026-11-03", "group_by": "day"})

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["group_by"]) == ("2026-10-01", "2026-11-03", ["day"])
    assert body["rows"] == [
        {"day": "2026-10-20", "quantity": 500, "cost": "5.000", "currency": "usd"},
        {"day": "2026-11-02", "quantity": 130, "cost": "1.300", "currency": "usd"},
    ]


def test_group_by_hour_and_capability(client_for, alice, usage):
    body = client_for(alice).get(USAGE, {"group_by": "hour,capability"}).json()

    assert body["group_by"] == ["capability", "hour"]
    assert [(row["hour"], row["capability"], row["cost"]) for row in body["rows"]] == [
        ("2026-11-02T09:00:00Z", "ocr", "1.230"),
        ("2026-11-02T17:00:00Z", "ocr", "0.070"),
        ("2026-11-04T09:00:00Z", "summaries", "0.15"),
    ]


def test_an_api_key_reads_its_organizations_usage(alice, acme, usage):
    body = key_client(alice, acme).get(USAGE).json()
    assert body["organization"] == "acme"
    assert body["totals"] == [{"cost": "1.450", "currency": "usd"}]


def test_gina_and_globex_keys_see_only_globex(client_for, gina, globex, usage):
    for client in (client_for(gina), key_client(gina, globex)):
        body = client.get(USAGE).json()
        assert body["organization"] == "globex"
        assert [row["quantity"] for row in body["rows"]] == [40]
        events = client.get(EVENTS).json()["results"]
        assert [event["quantity"] for event in events] == [40]


@pytest.mark.parametrize("slug", ["acme", "no-such-org"])
def test_naming_another_organization_needs_finance(client_for, gina, globex, usage, slug):
    for client in (client_for(gina), key_client(gina, globex)):
        response = client.get(USAGE, {"organization": slug})
        assert response.status_code == 403
        assert response.json()["code"] == "finance_required"
        assert "acme" not in response.content.decode().replace(f"organization={slug}", "")


def test_naming_ones_own_organization_is_fine(client_for, alice, usage):
    assert client_for(alice).get(USAGE, {"organization": "acme"}).json()["organization"] == "acme"


def test_finance_reads_any_organization(client_for, fiona, usage):
    client = client_for(fiona)
    assert client.get(USAGE, {"organization": "acme"}).json()["totals"] == [
        {"cost": "1.450", "currency": "usd"}
    ]
    assert client.get(USAGE, {"organization": "globex"}).json()["organization"] == "globex"

    unknown = client.get(USAGE, {"organization": "nobody"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"organization": ["No organization has the slug 'nobody'."]}

    without = client.get(USAGE)
    assert without.status_code == 403
    assert without.json()["code"] == "no_organization"


def test_finance_reads_any_organizations_events(client_for, fiona, gina, usage):
    response = client_for(fiona).get(EVENTS, {"organization": "acme", "meter": "pages"})
    assert [event["quantity"] for event in response.json()["results"]] == [500, 7, 123]
    assert client_for(fiona).get(EVENTS).status_code == 403  # no organization of her own

    outsider = client_for(gina).get(EVENTS, {"organization": "acme"})
    assert outsider.status_code == 403
    assert outsider.json()["code"] == "finance_required"


def test_members_and_it_admins_cannot_read_usage(client_for, bob, ivan, usage):
    response = client_for(bob).get(USAGE)
    assert response.status_code == 403
    assert "does not allow reading its usage: owners, admins and billing can." in response.json()["detail"]
    assert client_for(bob).get(EVENTS).status_code == 403
    assert client_for(ivan).get(USAGE, {"organization": "acme"}).status_code == 403


def test_signed_out_callers_get_401_or_403(client):
    assert client.get(USAGE).status_code in {401, 403}


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"group_by": "capability,week"},
            "group_by",
            "Unknown grouping 'week'; use a comma-separated subset",
        ),
        ({"group_by": "day,hour"}, "group_by", "Group by day or by hour, not both."),
        (
            {"start": "2026-13-01", "end": "2026-12-01"},
            "start",
            "Date has wrong format. Use one of these formats",
        ),
        ({"start": "yesterday", "end": "2026-12-01"}, "start", "Date has wrong format"),
        ({"start": "2026-11-05", "end": "2026-11-01"}, "end", "end must not be before start."),
        ({"start": "2024-01-01", "end": "2026-11-01"}, "end", "Ask for at most 366 days at a time."),
    ],
)
def test_bad_queries_get_400_with_a_clear_message(client_for, alice, usage, params, field, message):
    response = client_for(alice).get(USAGE, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert message in " ".join(body["errors"][field])


def test_the_usage_report_is_one_query_on_rollups(client_for, alice, acme, usage):
    client = client_for(alice)
    client.get(USAGE)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(USAGE, {"group_by": "capability,meter,day"})
        return len(captured)

    few = count()
    for n in range(30):
        record(acme, n + 1, at=NOW - timedelta(days=n % 9, hours=n))
    assert count() == few
    with CaptureQueriesContext(connection) as captured:
        client.get(USAGE)
    assert len([q for q in captured if "metering_usagerollup" in q["sql"]]) == 1
    assert not [q for q in captured if "metering_usageevent" in q["sql"]]


# --- events ------------------------------------------------------------------------------------


def test_events_newest_first_with_their_fields(client_for, alice, acme, usage):
    record(acme, -2, at=datetime(2026, 11, 5, tzinfo=UTC), kind="correction", reason="refund")

    body = client_for(alice).get(EVENTS).json()

    assert body["previous"] is None and body["next"] is None
    events = body["results"]
    assert [event["quantity"] for event in events] == [-2, 500, 3, 7, 123]
    assert set(events[0]) == {
        "id",
        "capability",
        "meter",
        "quantity",
        "kind",
        "occurred_at",
        "recorded_at",
        "idempotency_key",
        "job_id",
        "reason",
    }
    assert (events[0]["kind"], events[0]["reason"], events[0]["occurred_at"]) == (
        "correction",
        "refund",
        "2026-11-05T00:00:00Z",
    )


def test_events_are_cursor_paginated(client_for, alice, acme):
    for n in range(5):
        record(acme, n + 1, at=NOW - timedelta(hours=n))
    client = client_for(alice)

    seen = []
    url = f"{EVENTS}?page_size=2"
    pages = 0
    while url:
        body = client.get(url).json()
        seen += [event["quantity"] for event in body["results"]]
        url = body["next"]
        pages += 1
        assert "cursor=" in (url or "cursor=")

    assert pages == 3
    assert seen == [5, 4, 3, 2, 1]


def test_event_filters(client_for, alice, usage):
    client = client_for(alice)

    def quantities(**params) -> list[int]:
        response = client.get(EVENTS, params)
        assert response.status_code == 200, response.content
        return [event["quantity"] for event in response.json()["results"]]

    assert quantities(capability="summaries") == [3]
    assert quantities(meter="pages") == [500, 7, 123]
    assert quantities(since="2026-11-01") == [3, 7, 123]
    assert quantities(since="2026-11-02T10:00:00Z", until="2026-11-04T09:00:00Z") == [7]
    assert quantities(until="2026-11-01") == [500]

    bad = client.get(EVENTS, {"since": "last tuesday"})
    assert bad.status_code == 400
    assert "since" in bad.json()["errors"]


def test_the_events_list_costs_the_same_queries_whatever_its_length(client_for, alice, acme):
    client = client_for(alice)
    record(acme, 1)
    client.get(EVENTS)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(EVENTS).status_code == 200
        return len(captured)

    few = count()
    for n in range(40):
        record(acme, n + 1, at=NOW - timedelta(minutes=n))
    assert count() == few


def test_the_schema_documents_the_usage_endpoints(client_for, alice):
    schema = client_for(alice).get("/api/schema/", {"format": "json"}).json()
    parameters = {p["name"] for p in schema["paths"]["/api/v1/usage/"]["get"]["parameters"]}
    assert parameters >= {"start", "end", "group_by", "organization"}
    event_parameters = {p["name"] for p in schema["paths"]["/api/v1/usage/events/"]["get"]["parameters"]}
    assert event_parameters >= {"capability", "meter", "since", "until", "cursor"}
