"""Invitation actions: invite, accept, revoke and lapse, each refused when it cannot apply."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portal.actions.errors import ActionError
from portal.actions.invitations import accept_invitation, expire_invitations, invite_member, revoke_invitation
from portal.models import Invitation, Role
from tests.factories import InvitationFactory
from tests.portal.actions import actions_logged

pytestmark = pytest.mark.django_db


class TestInvitations:
    def test_invite_accept_creates_account_and_membership(
        self, alice, acme, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            invitation = invite_member(alice, acme, email="Dave@Acme.test", role=Role.ADMIN)
        token = mail.outbox[0].body.split("/invitations/")[1].split("/")[0]
        assert Invitation.objects.get(pk=invitation.pk).token_hash != token  # only the hash is stored
        membership = accept_invitation(token, user=None, full_name="Dave", password="a-long-pass-phrase")
        assert membership.user.email == "dave@acme.test"
        assert membership.role == Role.ADMIN
        assert membership.user.check_password("a-long-pass-phrase")
        with pytest.raises(ActionError, match="already been used"):
            accept_invitation(token, user=None, password="x")

    def test_expired_or_revoked_invitations_are_refused(self, alice, acme):
        InvitationFactory(
            token="old", organization=acme, invited_by=alice, expires_at=timezone.now() - timedelta(minutes=1)
        )
        with pytest.raises(ActionError, match="expired"):
            accept_invitation("old", user=None, password="x")
        revoked = InvitationFactory(token="gone", organization=acme, invited_by=alice)
        revoke_invitation(alice, revoked)
        with pytest.raises(ActionError, match="revoked"):
            accept_invitation("gone", user=None, password="x")
        with pytest.raises(ActionError, match="not valid"):
            accept_invitation("never-issued", user=None, password="x")

    def test_invitation_for_someone_else_is_refused(self, alice, bob, acme):
        InvitationFactory(token="for-dave", organization=acme, invited_by=alice, email="dave@acme.test")
        with pytest.raises(ActionError, match=r"is for dave@acme\.test"):
            accept_invitation("for-dave", user=bob)

    def test_duplicate_invitations_and_members_are_refused(self, alice, bob, acme):
        invite_member(alice, acme, email="dave@acme.test", role=Role.MEMBER)
        with pytest.raises(ActionError, match="pending invitation"):
            invite_member(alice, acme, email="dave@acme.test", role=Role.MEMBER)
        with pytest.raises(ActionError, match="already a member"):
            invite_member(alice, acme, email="bob@acme.test", role=Role.MEMBER)

    def test_existing_user_joins_a_second_organization(self, gina, alice, acme):
        InvitationFactory(token="gina-to-acme", organization=acme, invited_by=alice, email="gina@globex.test")
        accept_invitation("gina-to-acme", user=gina)
        assert sorted(gina.memberships.values_list("organization__slug", flat=True)) == ["acme", "globex"]

    def test_lapsed_invitations_are_logged_once(self, alice, acme):
        InvitationFactory(organization=acme, invited_by=alice, expires_at=timezone.now() - timedelta(days=1))
        assert expire_invitations() == 1
        assert expire_invitations() == 0
        assert actions_logged() == ["invitation.expired"]
