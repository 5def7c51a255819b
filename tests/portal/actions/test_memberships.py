"""Membership actions: role changes and removal keep an owner and are audited."""

import pytest

from portal.actions.errors import ActionError
from portal.actions.memberships import change_member_role, remove_member
from portal.models import AuditEntry, Membership, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class TestRoles:
    def test_admin_cannot_grant_owner(self, alice, bob, acme):
        change_member_role(alice, bob.memberships.get(), role=Role.ADMIN)
        carol = UserFactory(email="carol@acme.test")
        carol_membership = Membership.objects.create(user=carol, organization=acme, role=Role.MEMBER)
        with pytest.raises(ActionError, match="Only an owner"):
            change_member_role(bob, carol_membership, role=Role.OWNER)
        carol_membership.refresh_from_db()
        assert carol_membership.role == Role.MEMBER

    def test_last_owner_cannot_be_demoted_or_removed(self, alice):
        membership = alice.memberships.get()
        with pytest.raises(ActionError, match="last owner"):
            change_member_role(alice, membership, role=Role.MEMBER)
        with pytest.raises(ActionError, match="last owner"):
            remove_member(alice, membership)
        assert Membership.objects.get(pk=membership.pk).role == Role.OWNER

    def test_role_change_is_audited_with_before_and_after(self, alice, bob):
        change_member_role(alice, bob.memberships.get(), role=Role.BILLING)
        entry = AuditEntry.objects.get(action="membership.role_changed")
        assert entry.details == {"email": "bob@acme.test", "from": "member", "to": "billing"}
        assert entry.actor == alice

    def test_unknown_role_is_refused(self, alice, bob):
        with pytest.raises(ActionError):
            change_member_role(alice, bob.memberships.get(), role="emperor")
