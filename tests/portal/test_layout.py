"""Security headers, branded error pages, navigation by role."""

import pytest
from django.test import Client
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def _boom(request):
    raise RuntimeError("secret internal detail")


urlpatterns = [*portal_urlpatterns, path("boom/", _boom)]


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
