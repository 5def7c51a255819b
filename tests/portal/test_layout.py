"""Security headers, branded error pages, navigation by role."""

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def _boom(request):
    raise RuntimeError("secret internal detail")


urlpatterns = [*portal_urlpatterns, path("boom/", _boom), path("api/boom/", _boom)]
handler500 = "portal.views.errors.server_error"


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_vendored_assets_come_from_our_static(client):
    page = client.get("/accounts/login/").content.decode()
    assert "/static/js/htmx.min.js" in page
    assert "/static/css/switchboard.css" in page
    assert "http://" not in page.split("<body")[0] and "https://" not in page.split("<body")[0]


@pytest.mark.django_db
def test_404_is_branded(client_for, alice):
    response = client_for(alice).get("/no-such-page/")
    assert response.status_code == 404
    assert b"We couldn't find that page" in response.content
    assert b"Acme Corp" in response.content  # navigation still there


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_500_is_branded_and_hides_the_error(db):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"secret internal detail" not in response.content


@pytest.mark.django_db
def test_csrf_failure_is_branded(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/members/", {"email": "x@acme.test", "role": "member"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("person", "present", "absent"),
    [
        ("alice", ["Members", "API keys"], ["Tenants", "Audit log"]),
        ("bob", ["Members"], ["API keys", "Tenants", "Audit log"]),
        ("ivan", ["Tenants", "Audit log", "Health"], ["API keys"]),
        ("fiona", ["Tenants"], ["Audit log", "API keys"]),
    ],
)
def test_navigation_follows_the_role(client_for, cast, person, present, absent):
    response = client_for(cast[person]).get("/", follow=True)
    nav = response.content.decode().split("<nav>")[1].split("</nav>")[0]
    for label in present:
        assert f">{label}</a>" in nav, label
    for label in absent:
        assert f">{label}</a>" not in nav, label


def _database_unreachable(execute, sql, params, many, context):
    raise OperationalError(
        'connection to server on socket "/run/.s.PGSQL.5432" failed: the database is shutting down'
    )


@pytest.mark.django_db
def test_an_unreachable_database_answers_503_with_retry_after_on_pages(alice):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    with connection.execute_wrapper(_database_unreachable):
        response = client.get("/members/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert b"Switchboard is briefly unavailable" in response.content
    assert b"PGSQL" not in response.content


@pytest.mark.django_db
def test_an_unreachable_database_answers_json_503_in_the_api(alice, acme):
    from portal.actions.api_keys import create_api_key

    _, secret = create_api_key(alice, acme, name="k", scope="manage")
    client = Client(raise_request_exception=False, headers={"Authorization": f"Api-Key {secret}"})
    with connection.execute_wrapper(_database_unreachable):
        response = client.get("/api/v1/jobs/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "service_unavailable"
    assert "PGSQL" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_api_500_is_json_without_the_error(db):
    response = Client(raise_request_exception=False).get("/api/boom/")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Something went wrong on our side; the error has been logged.",
        "code": "server_error",
    }
