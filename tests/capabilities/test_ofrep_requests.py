"""OFREP requests the OpenFeature providers never send (bad bodies, wrong
methods) and the credential rules, through Django's test client; the real
clients against a live server are in test_ofrep.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from capabilities import actions as capability_actions
from capabilities.ofrep import evaluation
from capabilities.ofrep.credentials import Credential, Refusal, forget_credentials, target
from portal.actions.api_keys import create_api_key
from portal.models import Organization
from portal.throttling import forget_rates

URL = "/ofrep/v1/evaluate/flags/ocr"
BULK = "/ofrep/v1/evaluate/flags"


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    forget_credentials()
    forget_rates()
    yield
    forget_credentials()
    forget_rates()


@pytest.fixture
def ofrep(alice, acme) -> Client:
    _, secret = create_api_key(alice, acme, name="flags", scope="read")
    return Client(headers={"Authorization": f"Bearer {secret}"})


def post(client: Client, url: str, body: object) -> tuple[int, dict]:
    response = client.post(url, body, content_type="application/json")
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "PARSE_ERROR"),
        ([1, 2], "PARSE_ERROR"),
        ({"context": "acme"}, "INVALID_CONTEXT"),
        ({"context": {"targetingKey": 7}}, "INVALID_CONTEXT"),
        ({"context": {"targetingKey": ""}}, "TARGETING_KEY_MISSING"),
        ({}, "TARGETING_KEY_MISSING"),
        ({"context": None}, "TARGETING_KEY_MISSING"),
    ],
)
def test_a_bad_request_is_a_400_naming_what_is_wrong(ofrep, body, code):
    status, answer = post(ofrep, URL, body)
    assert status == 400
    assert answer["errorCode"] == code and answer["key"] == "ocr" and answer["errorDetails"]
    status, answer = post(ofrep, BULK, body)
    assert status == 400
    assert answer["errorCode"] == code and "key" not in answer


def test_an_empty_body_misses_the_targeting_key(ofrep):
    response = ofrep.post(URL, b"", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errorCode"] == "TARGETING_KEY_MISSING"


def test_evaluation_takes_post_only_and_the_configuration_get_only(ofrep):
    assert ofrep.get(URL).status_code == 405
    assert ofrep.get(BULK).status_code == 405
    assert ofrep.post("/ofrep/v1/configuration").status_code == 405


def test_credentials_in_each_accepted_header(alice, acme):
    _, secret = create_api_key(alice, acme, name="flags", scope="use")
    accepted = [
        {"Authorization": f"Bearer {secret}"},
        {"Authorization": f"Api-Key {secret}"},
        {"X-API-Key": secret},
    ]
    for headers in accepted:
        status, answer = post(Client(headers=headers), URL, {"context": {"targetingKey": "acme"}})
        assert status == 200, headers
        assert answer["value"] is False
    status, answer = post(Client(headers={"Authorization": f"Basic {secret}"}), URL, {})
    assert status == 401 and "Bearer" in answer["errorDetails"]


def test_a_suspended_organization_is_refused(ofrep, acme):
    Organization.objects.filter(pk=acme.pk).update(status=Organization.Status.SUSPENDED)
    status, answer = post(ofrep, URL, {"context": {"targetingKey": "acme"}})
    assert status == 403 and "suspended" in answer["errorDetails"]


def test_the_flags_of_every_capability_in_key_order(ofrep, alice, acme):
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    status, answer = post(ofrep, BULK, {"context": {"targetingKey": "acme"}})
    assert status == 200
    keys = [flag["key"] for flag in answer["flags"]]
    assert keys == sorted(keys) and "ocr" in keys
    assert {flag["key"]: flag["value"] for flag in answer["flags"]}["ocr"] is True


# The credential a service of an external capability will hold: any
# organization, one flag. Its rules live in `target` and `may_see`.
SERVICE = Credential(label="service:ocr", organization_id=None, capability="ocr")


def test_a_service_credential_targets_any_organization_by_slug(acme, globex):
    assert target(SERVICE, "acme") == acme.pk
    assert target(SERVICE, "globex") == globex.pk
    with pytest.raises(Refusal) as unknown:
        target(SERVICE, "no-such-organization")
    assert (unknown.value.status, unknown.value.code) == (400, "INVALID_CONTEXT")
    Organization.objects.filter(pk=globex.pk).update(status=Organization.Status.SUSPENDED)
    with pytest.raises(Refusal) as suspended:
        target(SERVICE, "globex")
    assert suspended.value.status == 403


def test_a_service_credential_sees_its_own_flag_only(acme):
    assert [flag["key"] for flag in evaluation.evaluate_all(acme.pk, SERVICE)] == ["ocr"]
    assert SERVICE.may_see("ocr") and not SERVICE.may_see("documents")
