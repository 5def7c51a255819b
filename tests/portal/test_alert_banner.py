"""The alerts banner: on every page of an organization for its owners and
billing members (not plain members, not another organization's people), with
the level's colour and a link to act; each of them dismisses it for themselves
(htmx or a plain form), never for an alert of another organization."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal import alerts
from portal.models import Alert, AlertDismissal, AuditEntry, Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

BANNER = 'class="alert-banner"'


def _raise(organization, key="budget:1:80:2026-12", **overrides) -> Alert:
    fields = {
        "key": key,
        "kind": Alert.Kind.BUDGET,
        "title": "80 % of the monthly budget used",
        "message": "Acme has used $80.00 of its $100.00 budget for December.",
        "url": "/usage/",
        "level": Alert.Level.DANGER,
    }
    fields.update(overrides)
    alert = alerts.raise_alert(organization, **fields)
    assert alert is not None
    return alert


def test_owners_and_billing_members_see_the_banner_on_every_page(client_for, acme, alice, carol):
    alert = _raise(acme)
    for person in (alice, carol):
        for url in ("/", "/members/", "/members/", "/jobs/"):
            page = client_for(person).get(url).content.decode()
            assert BANNER in page, (person, url)
            assert "80 % of the monthly budget used" in page
            assert "used $80.00 of its $100.00 budget" in page
            assert f'id="alert-{alert.pk}"' in page
            assert "alert-danger" in page  # the level's colour
            assert 'href="/usage/"' in page


def test_plain_members_and_admins_do_not_see_it(client_for, acme, alice, bob):
    _raise(acme)
    dave = MembershipFactory(organization=acme, role=Role.ADMIN).user
    for person in (bob, dave):
        page = client_for(person).get("/members/").content.decode()
        assert BANNER not in page
        assert "monthly budget used" not in page


def test_another_organizations_people_do_not_see_it(client_for, acme, globex, gina):
    _raise(acme)
    page = client_for(gina).get("/members/").content.decode()
    assert BANNER not in page
    _raise(globex, key="g", title="Globex budget at 80 %", level=Alert.Level.INFO)
    page = client_for(gina).get("/members/").content.decode()
    assert "Globex budget at 80 %" in page and "monthly budget used" not in page
    assert "alert-info" in page


def test_alerts_older_than_a_week_leave_the_banner(client_for, acme, alice):
    old = _raise(acme)
    Alert.objects.filter(pk=old.pk).update(raised_at=old.raised_at.replace(year=2020))
    assert BANNER not in client_for(alice).get("/members/").content.decode()


def test_dismissing_with_htmx_removes_it_for_that_person_only(client_for, acme, alice, carol):
    alert = _raise(acme)
    response = client_for(alice).post(f"/alerts/{alert.pk}/dismiss/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.content == b""
    assert BANNER not in client_for(alice).get("/members/").content.decode()
    assert BANNER in client_for(carol).get("/members/").content.decode()  # carol has not dismissed it
    assert AlertDismissal.objects.filter(alert=alert, user=alice).count() == 1
    entry = AuditEntry.objects.get(action="alert.dismissed")
    assert entry.organization == acme and entry.actor == alice


def test_dismissing_twice_is_harmless_and_audited_once(client_for, acme, alice):
    alert = _raise(acme)
    client = client_for(alice)
    client.post(f"/alerts/{alert.pk}/dismiss/", headers={"HX-Request": "true"})
    client.post(f"/alerts/{alert.pk}/dismiss/", headers={"HX-Request": "true"})
    assert AlertDismissal.objects.count() == 1
    assert AuditEntry.objects.filter(action="alert.dismissed").count() == 1


def test_dismissing_without_javascript_goes_back_to_the_page(client_for, acme, alice):
    alert = _raise(acme)
    client = client_for(alice)
    response = client.post(f"/alerts/{alert.pk}/dismiss/", headers={"Referer": "http://testserver/members/"})
    assert response.status_code == 302 and response["Location"] == "http://testserver/members/"
    response = client.post(f"/alerts/{alert.pk}/dismiss/", headers={"Referer": "https://evil.test/"})
    assert response["Location"] == "/"


def test_dismissing_is_a_post_with_a_csrf_token(acme, alice):
    alert = _raise(acme)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(f"/alerts/{alert.pk}/dismiss/").status_code == 405
    assert client.post(f"/alerts/{alert.pk}/dismiss/").status_code == 403
    assert not AlertDismissal.objects.exists()


def test_a_plain_member_cannot_dismiss(client_for, acme, bob):
    alert = _raise(acme)
    assert client_for(bob).post(f"/alerts/{alert.pk}/dismiss/").status_code == 403
    assert not AlertDismissal.objects.exists()


def test_an_outsider_gets_404_for_another_organizations_alert(client_for, acme, gina):
    alert = _raise(acme)
    assert client_for(gina).post(f"/alerts/{alert.pk}/dismiss/").status_code == 404
    assert not AlertDismissal.objects.exists()


def _queries(client, url="/members/") -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def _alert_queries(queries: list[str]) -> list[str]:
    return [sql for sql in queries if '"portal_alert"' in sql]


def test_the_banner_costs_one_query_whatever_the_alerts(client_for, acme, alice, bob):
    """A member's page makes no alert query; an owner's makes one, with no
    alert as with many (some dismissed), so it never grows with them."""
    owner, member = client_for(alice), client_for(bob)
    owner.get("/members/")  # the first request of a session warms caches
    member.get("/members/")
    quiet = _queries(owner)
    assert len(_alert_queries(quiet)) == 1
    assert _alert_queries(_queries(member)) == []
    for number in range(12):
        alert = _raise(acme, key=f"k{number}", title=f"Alert number {number}")
        if number % 3 == 0:
            AlertDismissal.objects.create(alert=alert, user=alice)
    busy = _queries(owner)
    assert len(busy) == len(quiet) and len(_alert_queries(busy)) == 1
    page = owner.get("/members/").content.decode()
    assert page.count('class="callout alert-item') == alerts.BANNER_LIMIT
    assert "Alert number 11" in page and "Alert number 9" not in page  # newest first, dismissed left out


def test_an_htmx_fragment_makes_no_banner_query(client_for, acme, alice):
    _raise(acme)
    client = client_for(alice)
    client.get("/jobs/")
    with CaptureQueriesContext(connection) as captured:
        client.get("/jobs/", headers={"HX-Request": "true"})
    assert _alert_queries([query["sql"] for query in captured.captured_queries]) == []
