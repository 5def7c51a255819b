"""API keys verified lately are remembered for KEY_STALENESS (issue 20): a
busy client's requests skip the key's query, a revocation or a suspension
made through the portal is seen at once by the process that made it, and by
any other process within the bound."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal import verified_keys
from portal.actions.api_keys import create_api_key, revoke_api_key
from portal.actions.organizations import suspend_organization
from portal.models import OrganizationAPIKey

URL = "/api/v1/organizations/"


@pytest.fixture
def secret(alice, acme) -> str:
    return create_api_key(alice, acme, name="robot", scope="read")[1]


def _get(client, secret: str):
    return client.get(URL, HTTP_AUTHORIZATION=f"Api-Key {secret}")


def _key_queries(captured: CaptureQueriesContext) -> int:
    return sum('"portal_organizationapikey"' in query["sql"] for query in captured.captured_queries)


@pytest.mark.django_db
def test_a_key_used_again_soon_is_not_read_again(client, secret):
    with CaptureQueriesContext(connection) as first:
        assert _get(client, secret).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert _get(client, secret).status_code == 200
    assert _key_queries(first) >= 1
    assert _key_queries(second) == 0


@pytest.mark.django_db
def test_a_key_revoked_through_the_portal_is_refused_at_once(
    client, alice, acme, secret, django_capture_on_commit_callbacks
):
    assert _get(client, secret).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        revoke_api_key(alice, OrganizationAPIKey.objects.get(organization=acme))
    assert _get(client, secret).status_code == 401


@pytest.mark.django_db
def test_an_organization_suspended_through_the_portal_is_refused_at_once(
    client, ivan, acme, secret, django_capture_on_commit_callbacks
):
    assert _get(client, secret).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        suspend_organization(ivan, acme, reason="unpaid")
    assert _get(client, secret).status_code == 403


@pytest.mark.django_db
def test_a_revocation_another_process_made_is_seen_within_the_bound(client, secret, monkeypatch):
    """Another process's revocation reaches this one only through the database:
    trusted until KEY_STALENESS has passed, refused after (a fake clock)."""
    now = [1000.0]
    monkeypatch.setattr(verified_keys, "_clock", lambda: now[0])
    assert _get(client, secret).status_code == 200
    OrganizationAPIKey.objects.update(revoked=True)  # as another process would, nothing forgotten here

    now[0] += verified_keys.KEY_STALENESS / 2
    assert _get(client, secret).status_code == 200  # within the bound
    now[0] += verified_keys.KEY_STALENESS
    assert _get(client, secret).status_code == 401


@pytest.mark.django_db
def test_a_wrong_secret_with_a_known_prefix_is_never_remembered_as_valid(client, secret):
    assert _get(client, secret).status_code == 200
    prefix = secret.partition(".")[0]
    assert _get(client, f"{prefix}.not-the-secret").status_code == 401
