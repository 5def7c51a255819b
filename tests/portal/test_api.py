"""The tenancy REST API: who sees which organizations, API key authentication
and its errors, the OpenAPI schema and the self-hosted docs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.actions.api_keys import create_api_key, revoke_api_key
from portal.actions.organizations import suspend_organization
from portal.models import Organization, OrganizationAPIKey, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

ORGANIZATIONS = "/api/v1/organizations/"


def key_client(secret: str) -> Client:
    """A client that authenticates with an API key only (no session)."""
    return Client(headers={"Authorization": f"Api-Key {secret}"})


def listed_slugs(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["slug"] for row in response.json()["results"]]


@pytest.fixture
def acme_key(alice, acme) -> tuple[OrganizationAPIKey, str]:
    return create_api_key(alice, acme, name="ERP sync", scope="manage")


@pytest.fixture
def globex_key(gina, globex) -> tuple[OrganizationAPIKey, str]:
    return create_api_key(gina, globex, name="x", scope="manage")


# --- who sees which organizations ---------------------------------------------


@pytest.mark.parametrize("who", ["ivan", "fiona"])
def test_platform_staff_and_finance_list_every_organization(cast, client_for, who):
    response = client_for(cast[who]).get(ORGANIZATIONS)
    assert listed_slugs(response) == ["acme", "globex"]  # ordered by name


def test_a_member_lists_only_their_organizations(cast, client_for):
    assert listed_slugs(client_for(cast["bob"]).get(ORGANIZATIONS)) == ["acme"]


def test_a_member_of_two_organizations_lists_both(cast, client_for, globex):
    MembershipFactory(user=cast["bob"], organization=globex, role=Role.MEMBER)
    assert listed_slugs(client_for(cast["bob"]).get(ORGANIZATIONS)) == ["acme", "globex"]


def test_an_api_key_lists_only_its_organization(acme, acme_key):
    _, secret = acme_key
    response = key_client(secret).get(ORGANIZATIONS)
    assert listed_slugs(response) == ["acme"]
    assert response.json()["results"][0] == {
        "id": acme.pk,
        "name": "Acme Corp",
        "slug": "acme",
        "status": "active",
        "created_at": response.json()["results"][0]["created_at"],
    }


def test_outsider_gina_never_sees_acme(cast, client_for):
    response = client_for(cast["gina"]).get(ORGANIZATIONS)
    assert listed_slugs(response) == ["globex"]
    assert b"acme" not in response.content.lower()


def test_outsider_globex_key_never_sees_acme(cast, globex_key):
    _, secret = globex_key
    response = key_client(secret).get(ORGANIZATIONS)
    assert listed_slugs(response) == ["globex"]
    assert b"acme" not in response.content.lower()


def test_the_list_is_read_only(cast, acme_key):
    _, secret = acme_key
    response = key_client(secret).post(ORGANIZATIONS, {"name": "New"}, content_type="application/json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- authentication and its errors ------------------------------------------------


def test_anonymous_gets_401_asking_for_an_api_key(db):
    """The API key scheme is the first authenticator, so DRF answers 401 with
    its challenge rather than session authentication's 403."""
    response = Client().get(ORGANIZATIONS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Api-Key"
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_a_revoked_key_is_refused(cast, acme_key):
    api_key, secret = acme_key
    revoke_api_key(cast["alice"], api_key)
    response = key_client(secret).get(ORGANIZATIONS)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "This API key is not valid or was revoked.",
        "code": "authentication_failed",
    }


def test_a_wrong_secret_with_a_real_prefix_is_refused(acme_key):
    api_key, _ = acme_key
    response = key_client(f"{api_key.prefix}.not-the-secret").get(ORGANIZATIONS)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert b"acme" not in response.content.lower()


@pytest.mark.parametrize("header", ["Api-Key", "Api-Key   "])
def test_a_header_without_the_key_says_so(db, header):
    response = Client(headers={"Authorization": header}).get(ORGANIZATIONS)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "The API key is missing after “Api-Key”.",
        "code": "authentication_failed",
    }


def test_a_garbled_key_is_refused(db):
    response = key_client("not-a-key").get(ORGANIZATIONS)
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key is not valid or was revoked."


def test_a_suspended_organizations_key_gets_403(cast, acme, acme_key):
    _, secret = acme_key
    suspend_organization(cast["ivan"], acme, reason="x")
    response = key_client(secret).get(ORGANIZATIONS)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "This organization is suspended; the API is unavailable until it is reactivated.",
        "code": "organization_suspended",
    }


def test_using_a_key_records_its_last_use(acme_key):
    api_key, secret = acme_key
    assert api_key.last_used_at is None
    assert key_client(secret).get(ORGANIZATIONS).status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert api_key.last_used_at >= api_key.created


# --- query counts ---------------------------------------------------------------


def _many_organizations(count: int) -> None:
    for number in range(count):
        organization = OrganizationFactory(name=f"Tenant {number:02}", slug=f"tenant-{number:02}")
        MembershipFactory(organization=organization, user=UserFactory(), role=Role.OWNER)


def _queries_to_list(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(ORGANIZATIONS)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_listing_organizations_as_staff_does_not_grow_with_rows(cast, client_for):
    client = client_for(cast["ivan"])
    _many_organizations(3)
    few = _queries_to_list(client)
    _many_organizations(30)
    assert _queries_to_list(client) == few


def test_listing_thirty_organizations_stays_within_budget(cast, client_for, django_assert_max_num_queries):
    _many_organizations(30)
    client = client_for(cast["ivan"])
    # Session, user, current membership, count, page of rows.
    with django_assert_max_num_queries(5):
        response = client.get(ORGANIZATIONS)
    assert response.json()["count"] == Organization.objects.count() == 32


def test_listing_with_an_api_key_stays_within_budget(acme_key, django_assert_max_num_queries):
    _many_organizations(30)
    _, secret = acme_key
    client = key_client(secret)
    # Key lookup, last-use update, count, page of rows.
    with django_assert_max_num_queries(4):
        assert listed_slugs(client.get(ORGANIZATIONS)) == ["acme"]


# --- schema and docs --------------------------------------------------------------


def test_the_schema_is_an_openapi_3_document(db):
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3")
    assert "/api/v1/organizations/" in schema["paths"]
    assert "get" in schema["paths"]["/api/v1/organizations/"]
    assert schema["components"]["securitySchemes"]["OrganizationApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An organization API key, sent as `Api-Key <key>`.",
    }


def test_the_docs_are_served_from_our_own_static_files(cast, client_for):
    client = client_for(cast["bob"])
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "cdn.jsdelivr" not in html
    assert "unpkg.com" not in html
    assert "<script>" not in html  # CSP: no inline script, the init script is a file
    resources = re.findall(r'(?:src|href)="([^"]+)"', html)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert len(scripts) == 3
    for url in resources:
        assert url.startswith("/"), f"{url} is not served by Switchboard"
        fetched = client.get(url.replace("&amp;", "&"))
        assert fetched.status_code == 200, url
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in scripts)


@pytest.mark.parametrize("url", [ORGANIZATIONS, "/api/docs/"])
def test_html_renderings_work_with_an_api_key(acme_key, url):
    """Pages rendered with the portal's templates (the browsable API, the docs)
    must not treat the key's principal as a person."""
    _, secret = acme_key
    response = key_client(secret).get(url, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
