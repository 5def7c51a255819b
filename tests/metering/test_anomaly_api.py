"""`GET /api/v1/usage/anomalies/`: the caller organization's spikes, roles as
for usage, finance naming an organization, bad input answered 400."""

from __future__ import annotations

from datetime import timedelta

import pytest

from metering import anomalies
from tests.metering.anomaly_data import plant_spike, yesterday
from tests.metering.test_api import key_client

pytestmark = pytest.mark.django_db

ANOMALIES = "/api/v1/usage/anomalies/"


@pytest.fixture
def spikes(acme, globex):
    plant_spike(acme)
    plant_spike(acme, capability="summaries", meter="summaries", usual=50, figure=900)
    plant_spike(globex, usual=10, figure=800)


def test_owners_billing_and_keys_read_their_anomalies(client_for, alice, carol, acme, spikes):
    for client in (client_for(alice), client_for(carol), key_client(alice, acme)):
        response = client.get(ANOMALIES)
        assert response.status_code == 200
        body = response.json()
        assert body["organization"] == "acme"
        assert {(a["capability"], a["meter"]) for a in body["anomalies"]} == {
            ("ocr", "pages"),
            ("summaries", "summaries"),
        }
    ocr = next(a for a in body["anomalies"] if a["capability"] == "ocr")
    assert ocr["day"] == yesterday().isoformat()
    assert ocr["quantity"] == 4210
    assert ocr["baseline_median"] == "460"
    assert ocr["baseline_mad"] == "0"
    assert ocr["usual_day"] == "460"
    assert ocr["robust_z"] is None  # 40 identical days: any departure is unbounded
    assert ocr["ratio"] == pytest.approx(9.15)
    assert ocr["summary"].startswith("Text recognition pages on ")


def test_members_may_not_read_usage(client_for, bob, spikes):
    assert client_for(bob).get(ANOMALIES).status_code == 403


def test_filters(client_for, alice, spikes):
    client = client_for(alice)
    only_ocr = client.get(ANOMALIES, {"capability": "ocr"}).json()["anomalies"]
    assert [a["capability"] for a in only_ocr] == ["ocr"]
    before = (yesterday() - timedelta(days=1)).isoformat()
    assert client.get(ANOMALIES, {"until": before}).json()["anomalies"] == []
    assert len(client.get(ANOMALIES, {"since": yesterday().isoformat(), "limit": 1}).json()["anomalies"]) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "until"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"capability": "no-such-capability"}, "capability"),
    ],
)
def test_bad_input_is_a_clear_400(client_for, alice, query, field):
    response = client_for(alice).get(ANOMALIES, query)
    assert response.status_code == 400
    assert field in str(response.json())


def test_an_outsider_sees_only_its_own(client_for, gina, spikes):
    body = client_for(gina).get(ANOMALIES).json()
    assert body["organization"] == "globex"
    assert [a["quantity"] for a in body["anomalies"]] == [800]
    assert client_for(gina).get(ANOMALIES, {"organization": "acme"}).status_code == 403


def test_finance_names_an_organization(client_for, fiona, spikes):
    body = client_for(fiona).get(ANOMALIES, {"organization": "globex"}).json()
    assert [a["quantity"] for a in body["anomalies"]] == [800]


def test_the_list_costs_the_same_queries_whatever_its_length(
    client_for, alice, acme, django_assert_max_num_queries
):
    for n in range(2, 12):
        plant_spike(acme, day=yesterday() - timedelta(days=60 * n), detect=False)
    anomalies.detect([yesterday() - timedelta(days=60 * n) for n in range(2, 12)])
    client = client_for(alice)
    with django_assert_max_num_queries(8):
        assert len(client.get(ANOMALIES).json()["anomalies"]) == 10


def test_the_schema_documents_it(client_for, alice):
    schema = client_for(alice).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/usage/anomalies/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "since",
        "until",
        "capability",
        "limit",
        "organization",
    }
