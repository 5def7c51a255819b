"""Organization actions: creating one with its first owner, suspension and reactivation."""

import pytest
from django.core import mail

from portal.actions.errors import ActionError
from portal.actions.organizations import create_organization, reactivate_organization, suspend_organization
from portal.audit import Origin
from portal.models import AuditEntry, Membership, Organization, Role
from tests.factories import UserFactory
from tests.portal.actions import actions_logged

pytestmark = pytest.mark.django_db


class TestCreateOrganization:
    def test_existing_user_becomes_owner_at_once(self, ivan, django_capture_on_commit_callbacks):
        peter = UserFactory(email="peter@initech.test")
        with django_capture_on_commit_callbacks(execute=True):
            organization, invitation = create_organization(
                ivan, name="Initech", slug="initech", owner_email="Peter@Initech.test"
            )
        assert invitation is None
        assert Membership.objects.get(organization=organization).user == peter
        assert Membership.objects.get(organization=organization).role == Role.OWNER
        assert actions_logged() == ["organization.created", "membership.created"]
        assert mail.outbox == []

    def test_new_owner_is_invited_by_email(self, ivan, django_capture_on_commit_callbacks):
        origin = Origin(ip_address="10.0.0.9", base_url="https://portal.example.com")
        with django_capture_on_commit_callbacks(execute=True):
            organization, invitation = create_organization(
                ivan, name="Initech", slug="initech", owner_email="bill@initech.test", origin=origin
            )
        assert invitation.role == Role.OWNER
        assert not Membership.objects.filter(organization=organization).exists()
        assert len(mail.outbox) == 1
        assert "https://portal.example.com/invitations/" in mail.outbox[0].body
        assert AuditEntry.objects.filter(action="invitation.created", ip_address="10.0.0.9").exists()

    def test_taken_slug_is_refused(self, ivan, acme):
        with pytest.raises(ActionError, match="taken"):
            create_organization(ivan, name="Acme 2", slug="acme", owner_email="x@y.test")
        assert Organization.objects.count() == 1


class TestSuspension:
    def test_suspend_and_reactivate(self, ivan, acme):
        suspend_organization(ivan, acme, reason="Unpaid invoices")
        acme.refresh_from_db()
        assert acme.status == Organization.Status.SUSPENDED
        assert acme.suspended_reason == "Unpaid invoices"
        with pytest.raises(ActionError):
            suspend_organization(ivan, acme, reason="again")
        reactivate_organization(ivan, acme)
        acme.refresh_from_db()
        assert acme.is_active and acme.suspended_at is None
        assert actions_logged() == ["organization.suspended", "organization.reactivated"]
