"""The external capabilities API (/api/v1/manage/capabilities/, issue 18):
IT admins register, change and retire services and manage their
credentials; everyone else is refused; bad input is a 400 naming the field."""

from __future__ import annotations

import pytest

from capabilities.models import ExternalCapability, ServiceCredential
from capabilities.registry import registry
from portal.actions.api_keys import create_api_key
from tests.capabilities.state import api_key_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/manage/capabilities/"
DECLARATION = {
    "key": "translation",
    "name": "Translation",
    "summary": "Documents in 30 languages",
    "category": "Language",
    "documentation_url": "https://docs.example.com/translation",
    "health_url": "http://127.0.0.1:9/healthz",
    "dependencies": ["documents"],
    "meters": [{"key": "characters", "unit": "1,000 characters", "unit_price": "0.02"}],
}


def test_an_it_admin_registers_and_reads_a_service(client_for, ivan):
    api = client_for(ivan)
    answer = api.post(URL, DECLARATION, content_type="application/json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["key"] == "translation"
    assert body["meters"] == [
        {
            "key": "characters",
            "unit": "1,000 characters",
            "unit_price": "0.02",
            "currency": "usd",
            "description": "",
        }
    ]
    assert body["organizations_on"] == 0 and body["retired_at"] is None
    assert "translation" in registry()
    assert [service["key"] for service in api.get(URL).json()] == ["translation"]
    assert api.get(f"{URL}translation").json()["dependencies"] == ["documents"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": "documents"}, "key"),
        ({"key": "has space"}, "key"),
        ({"name": ""}, "name"),
        ({"dependencies": ["nowhere"]}, "dependencies"),
        ({"health_url": "not a url"}, "health_url"),
        (
            {"meters": [{"key": "pages", "unit": "page", "unit_price": 0.1}]},
            None,
        ),  # a float is fine as JSON number
        ({"meters": [{"key": "pages", "unit": "page", "unit_price": "-1"}]}, "meters"),
        ({"meters": [{"key": "pages", "unit": "page", "unit_price": "0.00000001"}]}, "meters"),
        ({"meters": [{"key": "api_calls", "unit": "call", "unit_price": "1"}]}, "meters"),
        ({"meters": [{"key": "pages", "unit": "page"}]}, "meters"),
        ({"meters": "pages"}, "meters"),
        ({"beta_version": "1.0.0"}, "beta_version"),  # the stable one
        ({"beta_version": "2.0:beta"}, "beta_version"),
        ({"beta_notes": "Faster"}, "beta_notes"),  # notes without a beta
    ],
)
def test_bad_declarations_are_400_naming_the_field(client_for, ivan, change, field):
    answer = client_for(ivan).post(URL, {**DECLARATION, **change}, content_type="application/json")
    if field is None:
        assert answer.status_code == 201
        assert answer.json()["meters"][0]["unit_price"] == "0.1"
        return
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()["errors"] or field in str(answer.json())
    assert not ExternalCapability.objects.exists()


def test_a_non_object_body_is_400(client_for, ivan):
    answer = client_for(ivan).post(URL, "[1, 2]", content_type="application/json")
    assert answer.status_code == 400


def test_only_it_admins_change_the_registry(client_for, alice, acme, fiona, ivan):
    assert client_for(alice).get(URL).status_code == 403
    assert client_for(alice).post(URL, DECLARATION, content_type="application/json").status_code == 403
    _key, secret = create_api_key(alice, acme, name="ops", scope="manage")
    assert api_key_client(secret).get(URL).status_code == 403
    # Finance reads, never writes.
    assert client_for(fiona).get(URL).status_code == 200
    assert client_for(fiona).post(URL, DECLARATION, content_type="application/json").status_code == 403
    assert not ExternalCapability.objects.exists()


def test_a_change_keeps_the_key(client_for, ivan):
    api = client_for(ivan)
    api.post(URL, DECLARATION, content_type="application/json")
    answer = api.put(f"{URL}translation", {**DECLARATION, "key": "other"}, content_type="application/json")
    assert answer.status_code == 400
    answer = api.put(
        f"{URL}translation", {**DECLARATION, "name": "Translation Pro"}, content_type="application/json"
    )
    assert answer.status_code == 200
    assert registry().get("translation").title == "Translation Pro"
    assert api.put(f"{URL}nothing", DECLARATION, content_type="application/json").status_code == 404


def test_credentials_are_issued_once_rotated_and_revoked(client_for, ivan):
    api = client_for(ivan)
    api.post(URL, DECLARATION, content_type="application/json")
    issued = api.post(f"{URL}translation/credentials", {"name": "prod"}, content_type="application/json")
    assert issued.status_code == 201
    secret, prefix = issued.json()["secret"], issued.json()["prefix"]
    assert secret.startswith(prefix + ".")
    listed = api.get(f"{URL}translation/credentials").json()
    assert [(row["prefix"], row["revoked"]) for row in listed] == [(prefix, False)]
    assert "secret" not in listed[0]

    rotated = api.post(f"{URL}translation/credentials/{prefix}/rotate")
    assert rotated.status_code == 201 and rotated.json()["secret"] != secret
    assert ServiceCredential.objects.get(prefix=prefix).revoked
    assert api.delete(f"{URL}translation/credentials/{prefix}").status_code == 400  # revoked already
    new_prefix = rotated.json()["prefix"]
    assert api.delete(f"{URL}translation/credentials/{new_prefix}").status_code == 204
    assert api.delete(f"{URL}translation/credentials/nothing").status_code == 404


def test_retiring_needs_a_reason_and_happens_once(client_for, ivan):
    api = client_for(ivan)
    api.post(URL, DECLARATION, content_type="application/json")
    assert api.post(f"{URL}translation/retire", {}, content_type="application/json").status_code == 400
    answer = api.post(f"{URL}translation/retire", {"reason": "Replaced"}, content_type="application/json")
    assert answer.status_code == 200
    assert answer.json()["switched_off"] == 0 and answer.json()["capability"]["retired_reason"] == "Replaced"
    assert "translation" not in registry()
    again = api.post(f"{URL}translation/retire", {"reason": "Again"}, content_type="application/json")
    assert again.status_code == 400
    refused = api.post(f"{URL}translation/credentials", {}, content_type="application/json")
    assert refused.status_code == 400


def test_the_catalog_api_lists_a_service_like_an_app(client_for, ivan, alice, acme):
    client_for(ivan).post(URL, DECLARATION, content_type="application/json")
    listed = {entry["key"]: entry for entry in client_for(alice).get("/api/v1/capabilities/").json()}
    assert listed["translation"]["name"] == "Translation"
    assert listed["translation"]["enabled"] is False
    toggled = client_for(alice).put(
        "/api/v1/capabilities/translation/toggle",
        {"enabled": True, "include_related": True},
        content_type="application/json",
    )
    assert toggled.status_code == 200, toggled.json()
    assert set(toggled.json()["changed"]) == {"translation", "documents"}


def test_a_service_declares_a_beta_that_organizations_opt_in_to(client_for, ivan, alice, acme):
    """Versions for services (issue 19): the beta is declared through the API,
    an owner opts in, and the flag's metadata tells the service the version."""
    from django.test import TestCase

    from capabilities import releases
    from capabilities.ofrep.evaluation import evaluate

    declaration = {
        **DECLARATION,
        "version": "1.4.0",
        "beta_version": "2.0.0-beta",
        "beta_notes": "Neural engine",
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = client_for(ivan).post(URL, declaration, content_type="application/json")
    assert answer.status_code == 201, answer.json()
    assert (answer.json()["beta_version"], answer.json()["beta_notes"]) == ("2.0.0-beta", "Neural engine")
    assert [(v.number, v.channel) for v in registry().get("translation").releases] == [
        ("1.4.0", "stable"),
        ("2.0.0-beta", "beta"),
    ]
    assert evaluate(acme.pk, "translation")["metadata"]["version"] == "1.4.0"

    with TestCase.captureOnCommitCallbacks(execute=True):
        releases.set_channel(alice, acme, "translation", "beta")
    assert evaluate(acme.pk, "translation")["metadata"]["version"] == "2.0.0-beta"
