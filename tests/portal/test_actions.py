"""Tenancy actions: each changes rows, keeps the invariants and writes its audit entry."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portal import actions
from portal.models import AuditEntry, Invitation, Membership, Organization, Role
from tests.factories import InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _actions_logged() -> list[str]:
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


class TestCreateOrganization:
    def test_existing_user_becomes_owner_at_once(self, ivan, django_capture_on_commit_callbacks):
        peter = UserFactory(email="peter@initech.test")
        with django_capture_on_commit_callbacks(execute=True):
            organization, invitation = actions.create_organization(
                ivan, name="Initech", slug="initech", owner_email="Peter@Initech.test"
            )
        assert invitation is None
        assert Membership.objects.get(organization=organization).user == peter
        assert Membership.objects.get(organization=organization).role == Role.OWNER
        assert _actions_logged() == ["organization.created", "membership.created"]
        assert mail.outbox == []

    def test_new_owner_is_invited_by_email(self, ivan, django_capture_on_commit_callbacks):
        origin = actions.Origin(ip_address="10.0.0.9", base_url="https://portal.example.com")
        with django_capture_on_commit_callbacks(execute=True):
            organization, invitation = actions.create_organization(
                ivan, name="Initech", slug="initech", owner_email="bill@initech.test", origin=origin
            )
        assert invitation.role == Role.OWNER
        assert not Membership.objects.filter(organization=organization).exists()
        assert len(mail.outbox) == 1
        assert "https://portal.example.com/invitations/" in mail.outbox[0].body
        assert AuditEntry.objects.filter(action="invitation.created", ip_address="10.0.0.9").exists()

    def test_taken_slug_is_refused(self, ivan, acme):
        with pytest.raises(actions.ActionError, match="taken"):
            actions.create_organization(ivan, name="Acme 2", slug="acme", owner_email="x@y.test")
        assert Organization.objects.count() == 1


class TestSuspension:
    def test_suspend_and_reactivate(self, ivan, acme):
        actions.suspend_organization(ivan, acme, reason="Unpaid invoices")
        acme.refresh_from_db()
        assert acme.status == Organization.Status.SUSPENDED
        assert acme.suspended_reason == "Unpaid invoices"
        with pytest.raises(actions.ActionError):
            actions.suspend_organization(ivan, acme, reason="again")
        actions.reactivate_organization(ivan, acme)
        acme.refresh_from_db()
        assert acme.is_active and acme.suspended_at is None
        assert _actions_logged() == ["organization.suspended", "organization.reactivated"]


class TestRoles:
    def test_admin_cannot_grant_owner(self, alice, bob, acme):
        actions.change_member_role(alice, bob.memberships.get(), role=Role.ADMIN)
        carol = UserFactory(email="carol@acme.test")
        carol_membership = Membership.objects.create(user=carol, organization=acme, role=Role.MEMBER)
        with pytest.raises(actions.ActionError, match="Only an owner"):
            actions.change_member_role(bob, carol_membership, role=Role.OWNER)
        carol_membership.refresh_from_db()
        assert carol_membership.role == Role.MEMBER

    def test_last_owner_cannot_be_demoted_or_removed(self, alice):
        membership = alice.memberships.get()
        with pytest.raises(actions.ActionError, match="last owner"):
            actions.change_member_role(alice, membership, role=Role.MEMBER)
        with pytest.raises(actions.ActionError, match="last owner"):
            actions.remove_member(alice, membership)
        assert Membership.objects.get(pk=membership.pk).role == Role.OWNER

    def test_role_change_is_audited_with_before_and_after(self, alice, bob):
        actions.change_member_role(alice, bob.memberships.get(), role=Role.BILLING)
        entry = AuditEntry.objects.get(action="membership.role_changed")
        assert entry.details == {"email": "bob@acme.test", "from": "member", "to": "billing"}
        assert entry.actor == alice

    def test_unknown_role_is_refused(self, alice, bob):
        with pytest.raises(actions.ActionError):
            actions.change_member_role(alice, bob.memberships.get(), role="emperor")


class TestInvitations:
    def test_invite_accept_creates_account_and_membership(
        self, alice, acme, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            invitation = actions.invite_member(alice, acme, email="Dave@Acme.test", role=Role.ADMIN)
        token = mail.outbox[0].body.split("/invitations/")[1].split("/")[0]
        assert Invitation.objects.get(pk=invitation.pk).token_hash != token  # only the hash is stored
        membership = actions.accept_invitation(
            token, user=None, full_name="Dave", password="a-long-pass-phrase"
        )
        assert membership.user.email == "dave@acme.test"
        assert membership.role == Role.ADMIN
        assert membership.user.check_password("a-long-pass-phrase")
        with pytest.raises(actions.ActionError, match="already been used"):
            actions.accept_invitation(token, user=None, password="x")

    def test_expired_or_revoked_invitations_are_refused(self, alice, acme):
        InvitationFactory(
            token="old", organization=acme, invited_by=alice, expires_at=timezone.now() - timedelta(minutes=1)
        )
        with pytest.raises(actions.ActionError, match="expired"):
            actions.accept_invitation("old", user=None, password="x")
        revoked = InvitationFactory(token="gone", organization=acme, invited_by=alice)
        actions.revoke_invitation(alice, revoked)
        with pytest.raises(actions.ActionError, match="revoked"):
            actions.accept_invitation("gone", user=None, password="x")
        with pytest.raises(actions.ActionError, match="not valid"):
            actions.accept_invitation("never-issued", user=None, password="x")

    def test_invitation_for_someone_else_is_refused(self, alice, bob, acme):
        InvitationFactory(token="for-dave", organization=acme, invited_by=alice, email="dave@acme.test")
        with pytest.raises(actions.ActionError, match=r"is for dave@acme\.test"):
            actions.accept_invitation("for-dave", user=bob)

    def test_duplicate_invitations_and_members_are_refused(self, alice, bob, acme):
        actions.invite_member(alice, acme, email="dave@acme.test", role=Role.MEMBER)
        with pytest.raises(actions.ActionError, match="pending invitation"):
            actions.invite_member(alice, acme, email="dave@acme.test", role=Role.MEMBER)
        with pytest.raises(actions.ActionError, match="already a member"):
            actions.invite_member(alice, acme, email="bob@acme.test", role=Role.MEMBER)

    def test_existing_user_joins_a_second_organization(self, gina, alice, acme):
        InvitationFactory(token="gina-to-acme", organization=acme, invited_by=alice, email="gina@globex.test")
        actions.accept_invitation("gina-to-acme", user=gina)
        assert sorted(gina.memberships.values_list("organization__slug", flat=True)) == ["acme", "globex"]

    def test_lapsed_invitations_are_logged_once(self, alice, acme):
        InvitationFactory(organization=acme, invited_by=alice, expires_at=timezone.now() - timedelta(days=1))
        assert actions.expire_invitations() == 1
        assert actions.expire_invitations() == 0
        assert _actions_logged() == ["invitation.expired"]


class TestApiKeys:
    def test_key_is_hashed_and_revocable(self, alice, acme):
        api_key, secret = actions.create_api_key(alice, acme, name="ERP sync", scope="manage")
        assert secret not in (api_key.hashed_key, api_key.id)
        assert api_key.is_valid(secret)
        actions.revoke_api_key(alice, api_key)
        api_key.refresh_from_db()
        assert api_key.revoked and api_key.revoked_at is not None
        with pytest.raises(actions.ActionError):
            actions.revoke_api_key(alice, api_key)
        assert _actions_logged() == ["api_key.created", "api_key.revoked"]
