"""Sign in and out, throttling, password reset and change, invitation links."""

import re

import pytest
from django.core import mail
from django.test import Client

from portal.actions.invitations import accept_invitation
from portal.models import AuditEntry, Membership, Role, User
from tests.factories import PASSWORD, InvitationFactory

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, email: str, password: str, ip: str = "198.51.100.4"):
    return client.post("/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_sign_in_and_out_are_audited_with_the_address(client, alice):
    response = _sign_in(client, "Alice@Acme.test", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302
    entries = AuditEntry.objects.filter(actor=alice).order_by("id")
    assert [e.action for e in entries] == ["auth.signed_in", "auth.signed_out"]
    assert entries[0].ip_address == "198.51.100.4"


@pytest.mark.parametrize(
    ("person", "home"),
    [("alice", "/"), ("carol", "/"), ("ivan", "/manage/"), ("fiona", "/finance/")],
)
def test_each_person_lands_on_their_own_home_after_sign_in(client, cast, person, home):
    response = _sign_in(client, cast[person].email, PASSWORD)
    assert response.status_code == 302 and response["Location"] == home
    assert client.get(home).status_code == 200


@pytest.mark.parametrize(("person", "next_url"), [("fiona", "/finance/prices/"), ("ivan", "/manage/audit/")])
def test_sign_in_keeps_the_page_asked_for(client, cast, person, next_url):
    response = client.post(
        f"/accounts/login/?next={next_url}", {"username": cast[person].email, "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == next_url


def test_a_signed_in_person_opening_sign_in_goes_home(client_for, fiona):
    response = client_for(fiona).get("/accounts/login/")
    assert response.status_code == 302 and response["Location"] == "/finance/"


def test_wrong_password_gets_a_clear_error_and_an_audit_line(client, alice):
    response = _sign_in(client, "alice@acme.test", "wrong")
    assert response.status_code == 200
    assert "match an account" in response.content.decode()
    failed = AuditEntry.objects.get(action="auth.sign_in_failed")
    assert failed.actor is None and failed.details == {"email": "alice@acme.test"}


def test_sign_in_is_throttled_after_repeated_failures(client, alice, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        # Changing the case of the address does not buy more guesses.
        _sign_in(client, "ALICE@acme.test" if attempt % 2 else "alice@acme.test", "wrong")
    locked = _sign_in(client, "alice@acme.test", PASSWORD)
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()
    # Another address is not locked out by someone else's guessing.
    assert _sign_in(Client(), "alice@acme.test", PASSWORD, ip="203.0.113.9").status_code == 302


def test_password_reset_by_console_email(client, alice):
    response = client.post("/accounts/password/reset/", {"email": "alice@acme.test"})
    assert response["Location"] == "/accounts/password/reset/sent/"
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert b"Choose a new password" in form_page.content
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-phrase", "new_password2": "a-brand-new-phrase"},
    )
    assert done["Location"] == "/accounts/password/reset/done/"
    assert User.objects.get(pk=alice.pk).check_password("a-brand-new-phrase")
    assert AuditEntry.objects.filter(action="auth.password_reset", actor=alice).exists()


def test_password_reset_for_unknown_email_reveals_nothing(client, db):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.test"})
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_password_change_is_audited(client_for, bob):
    response = client_for(bob).post(
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-phrase",
            "new_password2": "another-long-phrase",
        },
    )
    assert response["Location"] == "/accounts/password/change/done/"
    assert AuditEntry.objects.filter(action="auth.password_changed", actor=bob).exists()


class TestInvitationLinks:
    def test_new_person_creates_an_account_and_joins(self, client, alice, acme):
        InvitationFactory(
            token="welcome", organization=acme, invited_by=alice, email="dave@acme.test", role=Role.ADMIN
        )
        page = client.get("/invitations/welcome/")
        assert b"Join Acme Corp" in page.content
        response = client.post(
            "/invitations/welcome/",
            {
                "full_name": "Dave Doe",
                "password1": "correct-horse-battery",
                "password2": "correct-horse-battery",
            },
        )
        assert response["Location"] == "/"
        assert client.get("/").status_code == 200
        assert Membership.objects.get(user__email="dave@acme.test").role == Role.ADMIN

    @pytest.mark.parametrize(
        ("password1", "password2", "message"),
        [
            ("correct-horse-battery", "different-horse", "The two passwords differ."),
            ("123", "123", "too short"),
        ],
    )
    def test_bad_passwords_are_explained(self, client, alice, acme, password1, password2, message):
        InvitationFactory(token="welcome", organization=acme, invited_by=alice, email="dave@acme.test")
        response = client.post(
            "/invitations/welcome/", {"full_name": "Dave", "password1": password1, "password2": password2}
        )
        assert response.status_code == 400
        assert message in response.content.decode()
        assert not User.objects.filter(email="dave@acme.test").exists()

    def test_signed_in_invitee_joins_with_one_click(self, client_for, gina, alice, acme):
        InvitationFactory(token="gina", organization=acme, invited_by=alice, email="gina@globex.test")
        client = client_for(gina)
        client.post("/invitations/gina/")
        assert b"<h1>Acme Corp</h1>" in client.get("/").content

    def test_wrong_account_is_told_so(self, client_for, bob, alice, acme):
        InvitationFactory(token="for-dave", organization=acme, invited_by=alice, email="dave@acme.test")
        response = client_for(bob).post("/invitations/for-dave/")
        assert response.status_code == 400
        assert "is for dave@acme.test" in response.content.decode()

    def test_unknown_and_used_links(self, client, alice, acme):
        assert client.get("/invitations/nonsense/").status_code == 404
        InvitationFactory(token="used", organization=acme, invited_by=alice, email="bob2@acme.test")
        accept_invitation("used", user=None, password="correct-horse-battery")
        response = Client().get("/invitations/used/")
        assert response.status_code == 410
        assert b"already been accepted" in response.content
