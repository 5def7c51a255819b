"""Flags over OFREP, evaluated by the real OpenFeature clients (the
`openfeature-sdk` with `openfeature-provider-ofrep`, and `requests` for the
bulk endpoint the Python provider does not call) against a live server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.db import transaction
from django.utils import timezone
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from capabilities import actions as capability_actions
from capabilities.ofrep.credentials import forget_credentials
from metering import actions as metering_actions
from metering import budgets, ledger
from portal import throttling
from portal.actions.api_keys import create_api_key, revoke_api_key
from portal.throttling import forget_rates

pytestmark = pytest.mark.django_db(transaction=True)

ACME = EvaluationContext(targeting_key="acme")
ACME_JSON = {"targetingKey": "acme"}
OCR_VERSION = "1.0.0"


@pytest.fixture(autouse=True)
def _fresh_credentials() -> Iterator[None]:
    forget_credentials()
    forget_rates()
    yield
    forget_credentials()
    forget_rates()
    api.clear_providers()


@pytest.fixture
def acme_key(alice, acme) -> Any:
    return create_api_key(alice, acme, name="flags", scope="read")


@pytest.fixture
def secret(acme_key) -> str:
    return acme_key[1]


def client_with(base_url: str, secret: str) -> OpenFeatureClient:
    """An OpenFeature client of its own (its own domain) on the OFREP provider."""
    domain = uuid.uuid4().hex
    api.set_provider(
        OFREPProvider(base_url, headers_factory=lambda: {"Authorization": f"Bearer {secret}"}), domain
    )
    return api.get_client(domain)


@pytest.fixture
def flags(live_server, secret) -> OpenFeatureClient:
    return client_with(live_server.url, secret)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll (a generous deadline: the bound is the gate's, not this test's)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_an_enabled_capability_evaluates_true(flags, alice, acme):
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    details = flags.get_boolean_details("ocr", False, ACME)
    assert details.value is True
    assert details.reason == Reason.STATIC
    assert details.variant == "on"
    assert details.error_code is None
    assert dict(details.flag_metadata) == {
        "locked": False,
        "version": OCR_VERSION,
        "channel": "stable",
        "budget_state": "ok",
    }


def test_a_disabled_capability_evaluates_false(flags):
    details = flags.get_boolean_details("ocr", True, ACME)
    assert (details.value, details.reason, details.variant) == (False, Reason.DISABLED, "off")
    assert details.error_code is None


def test_a_toggle_change_is_seen_within_the_propagation_bound(flags, alice, acme):
    assert flags.get_boolean_value("ocr", True, ACME) is False
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    wait_for(lambda: flags.get_boolean_value("ocr", False, ACME) is True, "ocr to evaluate on")
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=False)
    wait_for(lambda: flags.get_boolean_value("ocr", True, ACME) is False, "ocr to evaluate off")


def test_a_lock_is_stated_and_an_unlock_seen(flags, ivan, acme):
    capability_actions.force_capability(ivan, acme, "ocr", enabled=True, reason="pilot")
    wait_for(lambda: flags.get_boolean_details("ocr", False, ACME).flag_metadata["locked"], "the lock")
    assert flags.get_boolean_value("ocr", False, ACME) is True
    capability_actions.unlock_capability(ivan, acme, "ocr")
    wait_for(lambda: not flags.get_boolean_details("ocr", False, ACME).flag_metadata["locked"], "the unlock")


def test_a_reached_stop_budget_evaluates_false(flags, alice, acme):
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    metering_actions.save_budget(alice, acme, capability="ocr", amount=Decimal("0.05"))
    # Five pages at $0.01 in the ledger, and the counters read from it: the
    # budget is reached. (No job: its broker message would outlive the test.)
    with transaction.atomic():
        ledger.append(
            [
                ledger.UsageRecord(
                    organization_id=acme.pk,
                    capability="ocr",
                    meter="pages",
                    quantity=5,
                    occurred_at=timezone.now(),
                    idempotency_key=f"ofrep-test:{acme.pk}",
                )
            ]
        )
    budgets.recompute(acme)
    wait_for(lambda: flags.get_boolean_value("ocr", True, ACME) is False, "the budget to stop ocr")
    details = flags.get_boolean_details("ocr", True, ACME)
    assert (details.reason, details.variant) == (Reason.DISABLED, "off")
    assert details.flag_metadata["budget_state"] == "stopped"


def test_an_unknown_flag_gives_the_default_with_flag_not_found(flags):
    details = flags.get_boolean_details("no-such-capability", True, ACME)
    assert details.value is True
    assert details.error_code == ErrorCode.FLAG_NOT_FOUND


def test_a_missing_targeting_key_gives_the_default(flags, live_server, secret):
    details = flags.get_boolean_details("ocr", True, EvaluationContext())
    assert details.value is True
    assert details.error_code == ErrorCode.TARGETING_KEY_MISSING
    response = requests.post(
        f"{live_server.url}/ofrep/v1/evaluate/flags/ocr",
        json={"context": {}},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == "TARGETING_KEY_MISSING"
    assert response.json()["key"] == "ocr"


def test_another_organizations_flags_are_forbidden(flags, live_server, secret, gina, globex):
    capability_actions.set_capability_enabled(gina, globex, "ocr", enabled=True)
    details = flags.get_boolean_details("ocr", False, EvaluationContext(targeting_key="globex"))
    assert details.value is False
    assert details.error_code == ErrorCode.GENERAL
    for slug in ("globex", "no-such-organization"):  # the same answer: nothing learnt of other slugs
        response = requests.post(
            f"{live_server.url}/ofrep/v1/evaluate/flags/ocr",
            json={"context": {"targetingKey": slug}},
            headers={"X-API-Key": secret},
            timeout=10,
        )
        assert response.status_code == 403
        assert "own organization" in response.json()["errorDetails"]


def test_bad_credentials_are_refused(live_server, acme_key, alice):
    flags = client_with(live_server.url, "nope.nothing")
    details = flags.get_boolean_details("ocr", True, ACME)
    assert (details.value, details.error_code) == (True, ErrorCode.GENERAL)
    url = f"{live_server.url}/ofrep/v1/evaluate/flags"
    response = requests.post(url, json={"context": ACME_JSON}, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # A revoked key is refused within the bound its verification is trusted for.
    api_key, secret = acme_key
    good = client_with(live_server.url, secret)
    assert good.get_boolean_details("ocr", True, ACME).error_code is None
    revoke_api_key(alice, api_key)
    wait_for(
        lambda: good.get_boolean_details("ocr", True, ACME).error_code == ErrorCode.GENERAL, "the revocation"
    )


def test_bulk_evaluation_with_etag_and_304(live_server, secret, alice, acme):
    url = f"{live_server.url}/ofrep/v1/evaluate/flags"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {secret}"
    first = session.post(url, json={"context": ACME_JSON}, timeout=10)
    assert first.status_code == 200
    flags = {flag["key"]: flag for flag in first.json()["flags"]}
    assert {"ocr", "summaries", "glossary"} <= set(flags)
    assert flags["ocr"]["value"] is False and flags["ocr"]["reason"] == "DISABLED"
    etag = first.headers["ETag"]
    unchanged = session.post(url, json={"context": ACME_JSON}, headers={"If-None-Match": etag}, timeout=10)
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["ETag"] == etag

    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)

    def changed() -> bool:
        again = session.post(url, json={"context": ACME_JSON}, headers={"If-None-Match": etag}, timeout=10)
        return again.status_code == 200 and again.headers["ETag"] != etag

    wait_for(changed, "a new ETag after the toggle change")
    now = session.post(url, json={"context": ACME_JSON}, timeout=10).json()
    assert {flag["key"]: flag["value"] for flag in now["flags"]}["ocr"] is True
    missing = session.post(url, json={"context": {}}, timeout=10)
    assert missing.status_code == 400
    assert missing.json()["errorCode"] == "TARGETING_KEY_MISSING"
    assert "key" not in missing.json()


def test_too_many_evaluations_are_answered_429_with_retry_after(
    flags, live_server, secret, settings, monkeypatch
):
    settings.OFREP_RATE_LIMIT = 2
    # One window for the whole test: on a busy machine the provider's request
    # could otherwise fall into the next second and be answered.
    monkeypatch.setattr(throttling, "_clock", lambda: 1_000_000.0)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {secret}"
    statuses = []
    for _ in range(50):
        response = session.post(
            f"{live_server.url}/ofrep/v1/evaluate/flags/ocr", json={"context": ACME_JSON}, timeout=10
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            break
    assert statuses[-1] == 429, statuses
    # The provider pauses until Retry-After has passed and answers the default meanwhile.
    details = flags.get_boolean_details("ocr", True, ACME)
    assert details.value is True and details.error_code == ErrorCode.GENERAL


def test_the_configuration_states_polling_and_types(live_server):
    url = f"{live_server.url}/ofrep/v1/configuration"
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    capabilities = response.json()["capabilities"]
    assert capabilities["flagEvaluation"]["supportedTypes"] == ["boolean"]
    assert capabilities["cacheInvalidation"]["polling"] == {"enabled": True, "minPollingIntervalMs": 500}
    again = requests.get(url, headers={"If-None-Match": f"W/{response.headers['ETag']}"}, timeout=10)
    assert again.status_code == 304


# --- an external capability's service credential (issue 18) --------------------------------


def test_a_service_credential_evaluates_its_own_flag_for_every_organization(
    live_server, register, ivan, alice, acme, gina, globex
):
    from capabilities import services

    service = register("translation")
    _credential, service_secret = services.issue_credential(ivan, service, name="prod")
    capability_actions.set_capability_enabled(alice, acme, "translation", enabled=True)
    flags = client_with(live_server.url, service_secret)

    details = flags.get_boolean_details("translation", False, ACME)
    assert (details.value, details.reason, details.error_code) == (True, Reason.STATIC, None)
    assert flags.get_boolean_value("translation", True, EvaluationContext(targeting_key="globex")) is False
    # A switch by globex is seen within the bound, like any flag.
    capability_actions.set_capability_enabled(gina, globex, "translation", enabled=True)
    wait_for(
        lambda: flags.get_boolean_value("translation", False, EvaluationContext(targeting_key="globex")),
        "globex's switch",
    )

    # Another capability's flag is not its business.
    response = requests.post(
        f"{live_server.url}/ofrep/v1/evaluate/flags/ocr",
        json={"context": ACME_JSON},
        headers={"Authorization": f"Bearer {service_secret}"},
        timeout=10,
    )
    assert response.status_code == 403
    assert "translation" in response.json()["errorDetails"]
    bulk = requests.post(
        f"{live_server.url}/ofrep/v1/evaluate/flags",
        json={"context": ACME_JSON},
        headers={"Authorization": f"Bearer {service_secret}"},
        timeout=10,
    )
    assert [flag["key"] for flag in bulk.json()["flags"]] == ["translation"]


def test_a_revoked_service_credential_is_refused_within_the_bound(live_server, register, ivan, alice, acme):
    from capabilities import services
    from capabilities.models import ServiceCredential

    service = register("translation")
    credential, service_secret = services.issue_credential(ivan, service, name="prod")
    flags = client_with(live_server.url, service_secret)
    assert flags.get_boolean_details("translation", True, ACME).error_code is None
    services.revoke_credential(ivan, ServiceCredential.objects.get(pk=credential.pk))
    wait_for(
        lambda: flags.get_boolean_details("translation", True, ACME).error_code == ErrorCode.GENERAL,
        "the revocation",
    )
