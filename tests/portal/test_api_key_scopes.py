"""Scoped API keys on the portal side: a key lives while its creator holds a
role that may hold its scope (revoked in the membership change's transaction,
audited with the reason, shown on the keys page); keys made before scopes
became `manage` and owners are asked to review them; the tenancy system check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from portal.actions.api_keys import create_api_key
from portal.actions.errors import ActionError
from portal.actions.memberships import change_member_role, remove_member
from portal.checks import tenancy_errors
from portal.models import AuditEntry, OrganizationAPIKey, Role
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def dan(acme):
    """An admin of acme: he makes keys of every scope."""
    user = UserFactory(email="dan@acme.test")
    MembershipFactory(user=user, organization=acme, role=Role.ADMIN)
    return user


def keys_of(dan, acme) -> dict[str, OrganizationAPIKey]:
    return {
        scope: create_api_key(dan, acme, name=f"{scope} key", scope=scope)[0]
        for scope in ("read", "use", "manage")
    }


def revoked(api_key: OrganizationAPIKey) -> bool:
    api_key.refresh_from_db()
    return api_key.revoked


def revocations() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="api_key.revoked").order_by("id"))


class TestRevokedWithTheCreator:
    def test_removing_the_creator_revokes_their_keys_and_audits_why(self, alice, bob, dan, acme):
        keys = keys_of(dan, acme)
        alices_key, _ = create_api_key(alice, acme, name="alice's", scope="manage")

        remove_member(alice, dan.memberships.get())

        assert all(revoked(api_key) for api_key in keys.values())
        assert not revoked(alices_key)
        entries = revocations()
        assert sorted(entry.details["scope"] for entry in entries) == ["manage", "read", "use"]
        reason = "Its creator dan@acme.test left the organization."
        assert {entry.details["reason"] for entry in entries} == {reason}
        assert {entry.actor for entry in entries} == {alice}
        assert keys["use"].revoked_reason == reason

    def test_demoting_an_admin_to_member_revokes_the_manage_key_only(self, alice, dan, acme):
        keys = keys_of(dan, acme)

        change_member_role(alice, dan.memberships.get(), role=Role.MEMBER)

        assert [scope for scope, api_key in keys.items() if revoked(api_key)] == ["manage"]
        (entry,) = revocations()
        assert entry.details["reason"] == "Its creator dan@acme.test changed role from admin to member."
        assert entry.target_id == str(keys["manage"].pk)

    def test_billing_keeps_only_the_read_key(self, alice, dan, acme):
        keys = keys_of(dan, acme)
        change_member_role(alice, dan.memberships.get(), role=Role.BILLING)
        assert [scope for scope, api_key in keys.items() if not revoked(api_key)] == ["read"]

    def test_a_refused_role_change_revokes_nothing(self, alice, acme):
        api_key, _ = create_api_key(alice, acme, name="owner's", scope="manage")
        with pytest.raises(ActionError):  # the last owner
            change_member_role(alice, alice.memberships.get(), role=Role.MEMBER)
        assert not revoked(api_key)
        assert not revocations()

    def test_the_keys_page_shows_scope_expiry_and_why_a_key_was_revoked(self, client_for, alice, dan, acme):
        create_api_key(
            alice, acme, name="nightly", scope="read", expires_on=timezone.now().date() + timedelta(days=3)
        )
        keys_of(dan, acme)
        change_member_role(alice, dan.memberships.get(), role=Role.MEMBER)

        page = client_for(alice).get("/api-keys/").content.decode()

        assert "changed role from admin to member" in page
        assert "through " + (timezone.now().date() + timedelta(days=3)).isoformat() in page
        assert ">read<" in page and ">use<" in page and ">manage<" in page


class TestCreating:
    def test_the_page_creates_a_key_with_its_scope_and_expiry(self, client_for, alice, acme):
        day = timezone.now().date() + timedelta(days=30)
        response = client_for(alice).post(
            "/api-keys/", {"name": "ERP", "scope": "use", "expires_on": day.isoformat()}
        )
        assert response.status_code == 302
        api_key = OrganizationAPIKey.objects.get()
        assert (api_key.scope, api_key.valid_through, api_key.created_by) == ("use", day, alice)
        assert AuditEntry.objects.get(action="api_key.created").details["scope"] == "use"

    def test_an_expiry_in_the_past_is_refused(self, client_for, alice):
        yesterday = timezone.now().date() - timedelta(days=1)
        response = client_for(alice).post(
            "/api-keys/", {"name": "ERP", "scope": "read", "expires_on": yesterday.isoformat()}
        )
        assert response.status_code == 400
        assert "in the past" in response.content.decode()
        assert not OrganizationAPIKey.objects.exists()

    def test_an_unknown_scope_is_refused(self, client_for, alice, acme):
        assert client_for(alice).post("/api-keys/", {"name": "ERP", "scope": "root"}).status_code == 400
        with pytest.raises(ActionError, match="not a key scope"):
            create_api_key(alice, acme, name="x", scope="root")
        assert not OrganizationAPIKey.objects.exists()

    def test_a_creator_needs_a_role_that_may_hold_the_scope(self, bob, carol, gina, acme):
        with pytest.raises(ActionError) as refused:
            create_api_key(carol, acme, name="x", scope="use")
        assert refused.value.code == "scope_not_allowed"
        with pytest.raises(ActionError):
            create_api_key(gina, acme, name="x", scope="read")  # not a member of acme
        assert create_api_key(bob, acme, name="x", scope="use")[0].scope == "use"


class TestMigratedKeys:
    # Committed rows: the migration alters the table, which PostgreSQL refuses
    # while this transaction still has deferred constraint checks pending.
    @pytest.mark.django_db(transaction=True)
    def test_existing_keys_become_manage_marked_for_review_and_audited(self, alice, acme):
        executor = MigrationExecutor(connection)
        executor.migrate([("portal", "0003_idempotency_key")])
        old_state = executor.loader.project_state([("portal", "0003_idempotency_key")])
        old_key_model = old_state.apps.get_model("portal", "OrganizationAPIKey")
        old_key_model.objects.create(
            id="old.key",
            prefix="old",
            hashed_key="x",
            name="legacy",
            organization_id=acme.pk,
            created_by_id=alice.pk,
        )

        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

        api_key = OrganizationAPIKey.objects.get(prefix="old")
        assert (api_key.scope, api_key.scope_migrated) == ("manage", True)
        entry = AuditEntry.objects.get(action="api_key.scope_migrated")
        assert (entry.organization, entry.details) == (acme, {"scope": "manage", "prefixes": ["old"]})
        # Keys made from now on are not marked.
        assert not create_api_key(alice, acme, name="new", scope="read")[0].scope_migrated

    def test_owners_see_the_notice_until_they_dismiss_it(self, client_for, alice, acme):
        api_key, _ = create_api_key(alice, acme, name="legacy", scope="manage")
        OrganizationAPIKey.objects.filter(pk=api_key.pk).update(scope_migrated=True)
        client = client_for(alice)
        assert "Existing keys now have the manage scope" in client.get("/api-keys/").content.decode()

        assert client.post("/api-keys/review/").status_code == 302

        assert "Existing keys now have the manage scope" not in client.get("/api-keys/").content.decode()
        entry = AuditEntry.objects.get(action="api_key.scopes_reviewed")
        assert (entry.actor, entry.details) == (alice, {"prefixes": [api_key.prefix]})

    def test_members_cannot_dismiss_it(self, client_for, bob, alice, acme):
        api_key, _ = create_api_key(alice, acme, name="legacy", scope="manage")
        OrganizationAPIKey.objects.filter(pk=api_key.pk).update(scope_migrated=True)
        assert client_for(bob).post("/api-keys/review/").status_code == 403
        assert OrganizationAPIKey.objects.get(pk=api_key.pk).scope_migrated


class Forgetful(APIView):
    permission_classes = [IsAuthenticated]


class PlatformOnly(APIView):
    permission_classes = [IsAuthenticated]
    tenancy_opt_out = "platform staff only"


class OnTheDefaults(APIView):
    pass


def plain_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("not DRF")


class TestTenancyCheck:
    def test_the_project_passes(self):
        from django.urls import get_resolver

        assert tenancy_errors(get_resolver().url_patterns) == []

    def test_a_view_that_drops_the_membership_check_fails(self):
        errors = tenancy_errors(
            [
                path("api/v1/forgetful/", Forgetful.as_view()),
                path("api/v1/platform/", PlatformOnly.as_view()),
                path("api/v1/defaults/", OnTheDefaults.as_view()),
                path("elsewhere/", Forgetful.as_view()),
            ]
        )
        assert [(error.id, "Forgetful" in error.msg) for error in errors] == [("portal.E002", True)]
        assert "drops OrganizationMember" in errors[0].msg

    def test_a_plain_django_view_under_the_api_fails(self):
        errors = tenancy_errors([path("api/v1/plain/", plain_view)])
        assert [error.id for error in errors] == ["portal.E001"]
