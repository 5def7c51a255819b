"""An API key acts as the role of its scope: `read` like a billing user (GET
only), `use` like a member (runs capabilities), `manage` like an admin
(toggles). A request beyond the scope answers 403 `insufficient_scope`; an
expired key answers 401."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from capabilities.models import FeatureToggle, Job
from portal.actions.api_keys import create_api_key
from portal.models import OrganizationAPIKey
from portal.verified_keys import forget_verified_keys
from tests.capabilities.state import api_key_client

JOBS = "/api/v1/jobs/"
TOGGLE = "/api/v1/capabilities/ocr/toggle"
OFF = {"enabled": False, "reason": "scope test"}


@pytest.fixture
def ocr_on(alice, acme, switch) -> None:
    switch(alice, acme, "ocr", enabled=True)


def key(alice, acme, scope: str) -> str:
    _, secret = create_api_key(alice, acme, name=f"{scope} key", scope=scope)
    return secret


def start_job(secret: str):
    return api_key_client(secret).post(
        JOBS, {"capability": "ocr", "kind": "recognize"}, content_type="application/json"
    )


def toggle_off(secret: str):
    return api_key_client(secret).put(TOGGLE, OFF, content_type="application/json")


def ocr_enabled(acme) -> bool:
    return FeatureToggle.objects.get(organization=acme, capability_key="ocr").enabled


def test_a_read_key_reads_but_cannot_start_a_job(alice, acme, ocr_on):
    secret = key(alice, acme, "read")
    assert api_key_client(secret).get(JOBS).status_code == 200

    response = start_job(secret)

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert "read scope" in response.json()["detail"]
    assert not Job.objects.exists()


def test_a_read_key_reads_usage_like_a_billing_user(alice, acme):
    assert api_key_client(key(alice, acme, "read")).get("/api/v1/usage/").status_code == 200


def test_a_use_key_starts_and_cancels_a_job_but_cannot_toggle(alice, acme, ocr_on):
    secret = key(alice, acme, "use")

    started = start_job(secret)
    assert started.status_code == 202, started.content
    cancelled = api_key_client(secret).post(f"{JOBS}{started.json()['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.content

    response = toggle_off(secret)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert "manage scope" in response.json()["detail"]
    assert ocr_enabled(acme)


def test_a_use_key_cannot_read_usage_like_a_member(alice, acme):
    response = api_key_client(key(alice, acme, "use")).get("/api/v1/usage/")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_a_manage_key_toggles(alice, acme, ocr_on):
    response = toggle_off(key(alice, acme, "manage"))

    assert response.status_code == 200, response.content
    assert not ocr_enabled(acme)


def test_an_expired_key_is_401_with_a_clear_message(alice, acme, ocr_on):
    api_key, secret = create_api_key(alice, acme, name="short", scope="use")
    assert start_job(secret).status_code == 202  # works until it expires
    OrganizationAPIKey.objects.filter(pk=api_key.pk).update(expiry_date=timezone.now() - timedelta(minutes=1))
    # The date moved behind the portal's back: what this process verified is
    # forgotten, as it is KEY_STALENESS later (a key that expires while
    # remembered is refused at once: its expiry is checked at every use).
    forget_verified_keys()

    response = api_key_client(secret).get(JOBS)

    assert response.status_code == 401
    assert response.json()["code"] == "api_key_expired"
    assert "expired on" in response.json()["detail"]
    assert Job.objects.count() == 1


def test_a_key_valid_through_today_still_works(alice, acme, ocr_on):
    api_key, secret = create_api_key(
        alice, acme, name="today", scope="read", expires_on=timezone.now().date()
    )
    assert api_key.valid_through == timezone.now().date()
    assert api_key_client(secret).get(JOBS).status_code == 200
