"""Organization pages: home, members, invitations, API keys, switching, suspension."""

import pytest
from django.core import mail

from portal.actions.api_keys import create_api_key
from portal.actions.invitations import invite_member
from portal.actions.memberships import change_member_role
from portal.actions.organizations import suspend_organization
from portal.models import AuditEntry, Invitation, Membership, OrganizationAPIKey, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/members/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/members/"


def test_overview_shows_the_organization_and_its_activity(client_for, alice, bob):
    change_member_role(alice, bob.memberships.get(), role=Role.ADMIN)
    response = client_for(bob).get("/overview/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Acme Corp</h1>" in page
    assert "membership.role_changed" in page


def test_a_person_without_organization_gets_a_helpful_page(client_for, db):
    loner = UserFactory(email="loner@example.test")
    response = client_for(loner).get("/")
    assert response.status_code == 403
    assert b"don't belong to an organization" in response.content


def test_platform_people_without_organization_are_sent_to_their_own_home(client_for, ivan, fiona):
    assert client_for(ivan).get("/")["Location"] == "/manage/"
    assert client_for(fiona).get("/")["Location"] == "/finance/"


class TestMembers:
    def test_owner_invites_by_email(self, client_for, alice, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(alice).post("/members/", {"email": "dave@acme.test", "role": "admin"})
        assert response.status_code == 302
        invitation = Invitation.objects.get()
        assert (invitation.email, invitation.role, invitation.organization.slug) == (
            "dave@acme.test",
            "admin",
            "acme",
        )
        assert mail.outbox[0].to == ["dave@acme.test"]
        assert "http://testserver/invitations/" in mail.outbox[0].body

    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            ({"email": "not-an-email", "role": "member"}, "Enter a valid email address."),
            ({"email": "dave@acme.test", "role": "emperor"}, "Select a valid choice."),
            ({"email": "bob@acme.test", "role": "member"}, "already a member"),
        ],
    )
    def test_bad_invitations_get_clear_errors(self, client_for, alice, bob, payload, message):
        response = client_for(alice).post("/members/", payload)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert not Invitation.objects.exists()

    def test_member_sees_roles_but_cannot_invite_or_change(self, client_for, alice, bob):
        client = client_for(bob)
        page = client.get("/members/").content.decode()
        assert "alice@acme.test" in page
        assert 'name="role"' not in page
        assert client.post("/members/", {"email": "x@acme.test", "role": "member"}).status_code == 403
        membership = alice.memberships.get()
        assert client.post(f"/members/{membership.pk}/role/", {"role": "member"}).status_code == 403
        assert not Invitation.objects.exists()
        assert Membership.objects.get(pk=membership.pk).role == Role.OWNER

    def test_role_change_over_htmx_returns_the_row(self, client_for, alice, bob):
        membership = bob.memberships.get()
        response = client_for(alice).post(
            f"/members/{membership.pk}/role/", {"role": "admin"}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 200
        assert response.content.decode().strip().startswith(f'<tr id="member-{membership.pk}"')
        assert b"Saved" in response.content
        assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN

    def test_refused_role_change_explains_in_the_row(self, client_for, alice, bob):
        change_member_role(alice, bob.memberships.get(), role=Role.ADMIN)
        response = client_for(bob).post(
            f"/members/{alice.memberships.get().pk}/role/", {"role": "member"}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 400
        assert "Only an owner" in response.content.decode()

    def test_owner_removes_a_member(self, client_for, alice, bob):
        response = client_for(alice).post(f"/members/{bob.memberships.get().pk}/remove/")
        assert response.status_code == 302
        assert not Membership.objects.filter(user=bob).exists()
        assert AuditEntry.objects.filter(action="membership.removed").exists()

    def test_revoke_invitation(self, client_for, alice, acme):
        invitation = invite_member(alice, acme, email="dave@acme.test", role="member")
        client_for(alice).post(f"/invitations/{invitation.pk}/revoke/")
        assert Invitation.objects.get(pk=invitation.pk).status == "revoked"

    def test_member_list_queries_do_not_grow_with_members(
        self, client_for, alice, acme, django_assert_max_num_queries
    ):
        for _ in range(30):
            MembershipFactory(organization=acme)
        invite_member(alice, acme, email="dave@acme.test", role="member")
        client = client_for(alice)
        with django_assert_max_num_queries(10):
            response = client.get("/members/")
        assert response.content.decode().count('<tr id="member-') == 31


class TestApiKeys:
    def test_key_is_shown_once_then_only_its_prefix(self, client_for, alice):
        """POST/redirect/GET: the POST answers with a redirect, the GET after it
        shows the secret once; reloading shows only the prefix and creates no
        second key."""
        client = client_for(alice)
        response = client.post("/api-keys/", {"name": "ERP sync", "scope": "use"})
        assert response.status_code == 302
        assert response["Location"] == "/api-keys/"
        shown = client.get("/api-keys/")
        secret = shown.context["new_secret"]
        assert secret in shown.content.decode()
        api_key = OrganizationAPIKey.objects.get()
        assert api_key.is_valid(secret)
        again = client.get("/api-keys/").content.decode()
        assert secret not in again
        assert 'id="new-secret"' not in again
        assert api_key.prefix in again
        assert OrganizationAPIKey.objects.count() == 1

    def test_the_secret_is_not_shown_in_another_organization(self, client_for, gina, acme):
        """The secret waits in the session for the organization it belongs to:
        switching organizations before the GET does not show it elsewhere."""
        MembershipFactory(user=gina, organization=acme, role=Role.OWNER)
        client = client_for(gina)
        client.post("/switch/", {"organization": "acme"})
        client.post("/api-keys/", {"name": "ERP sync", "scope": "use"})
        client.post("/switch/", {"organization": "globex"})
        assert client.get("/api-keys/").context["new_secret"] is None

    def test_blank_name_is_refused(self, client_for, alice):
        response = client_for(alice).post("/api-keys/", {"name": ""})
        assert response.status_code == 400
        assert not OrganizationAPIKey.objects.exists()

    def test_revoke(self, client_for, alice, acme):
        api_key, _ = create_api_key(alice, acme, name="old", scope="manage")
        client_for(alice).post(f"/api-keys/{api_key.prefix}/revoke/")
        assert OrganizationAPIKey.objects.get(pk=api_key.pk).revoked

    @pytest.mark.parametrize("person", ["bob", "carol"])
    def test_members_and_billing_cannot_manage_keys(self, client_for, cast, person):
        client = client_for(cast[person])
        assert client.get("/api-keys/").status_code == 403
        assert client.post("/api-keys/", {"name": "sneaky"}).status_code == 403
        assert not OrganizationAPIKey.objects.exists()


class TestSwitching:
    def test_switch_between_own_organizations(self, client_for, gina, acme):
        MembershipFactory(user=gina, organization=acme, role=Role.MEMBER)
        client = client_for(gina)
        assert b"<h1>Acme Corp</h1>" in client.get("/").content  # first by name
        client.post("/switch/", {"organization": "globex"})
        assert b"<h1>Globex</h1>" in client.get("/").content
        assert (
            client.session["current_organization_id"]
            == gina.memberships.get(organization__slug="globex").organization_id
        )

    def test_switching_to_a_foreign_organization_is_refused(self, client_for, gina, acme):
        client = client_for(gina)
        response = client.post("/switch/", {"organization": "acme"}, follow=True)
        assert b"not a member of that organization" in response.content
        assert b"<h1>Globex</h1>" in response.content


class TestSuspended:
    def test_members_of_a_suspended_organization_can_use_nothing(self, client_for, ivan, alice, acme):
        suspend_organization(ivan, acme, reason="Contract ended")
        client = client_for(alice)
        for url in ("/", "/overview/", "/members/", "/api-keys/"):
            response = client.get(url)
            assert response.status_code == 403
            assert b"Acme Corp is suspended" in response.content
            assert b"Contract ended" in response.content
        client.post("/api-keys/", {"name": "x", "scope": "read"})
        assert not OrganizationAPIKey.objects.exists()

    def test_a_member_of_another_organization_can_switch_away(self, client_for, ivan, gina, acme):
        MembershipFactory(user=gina, organization=acme, role=Role.MEMBER)
        suspend_organization(ivan, acme, reason="x")
        client = client_for(gina)
        assert client.get("/").status_code == 403
        client.post("/switch/", {"organization": "globex"})
        assert client.get("/").status_code == 200


def test_unrelated_organization_rows_do_not_leak_into_home(client_for, alice):
    other = OrganizationFactory(name="Hooli")
    MembershipFactory(organization=other, user=UserFactory(email="gavin@hooli.test"))
    page = client_for(alice).get("/overview/").content.decode()
    assert "Hooli" not in page and "gavin@hooli.test" not in page
