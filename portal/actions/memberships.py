"""Membership actions: change a member's role and remove a member, keeping an
organization's last owner in place and revoking the API keys a member may no
longer hold."""

from __future__ import annotations

from django.db import transaction

from portal.actions.api_keys import revoke_keys_beyond_role
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import Membership, Organization, Role, User


def acts_as_owner(actor: User, organization: Organization) -> bool:
    """Whether `actor` may grant, take away or invite the owner role: an owner of
    the organization, or platform staff."""
    if actor.is_staff:
        return True
    return Membership.objects.filter(user=actor, organization=organization, role=Role.OWNER).exists()


def _owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).count()


def change_member_role(
    actor: User, membership: Membership, *, role: str, origin: Origin | None = None
) -> Membership:
    if role not in Role.values:
        raise ActionError(f"“{role}” is not a role.", "invalid_role")
    with transaction.atomic(durable=True):
        membership = (
            Membership.objects.select_for_update()
            .select_related("user", "organization")
            .get(pk=membership.pk)
        )
        organization = membership.organization
        old_role = membership.role
        if old_role == role:
            return membership
        if Role.OWNER in (old_role, role) and not acts_as_owner(actor, organization):
            raise ActionError("Only an owner can grant or take away the owner role.", "owner_required")
        if old_role == Role.OWNER and _owner_count(organization) == 1:
            raise ActionError(
                f"{membership.user.email} is the last owner of {organization.name}; "
                "make someone else owner first.",
                "last_owner",
            )
        membership.role = role
        membership.save(update_fields=["role"])
        record_audit(
            actor,
            "membership.role_changed",
            organization=organization,
            target=membership,
            origin=origin,
            details={"email": membership.user.email, "from": old_role, "to": role},
        )
        revoke_keys_beyond_role(
            actor,
            membership.user,
            organization,
            role,
            reason=f"Its creator {membership.user.email} changed role from {old_role} to {role}.",
            origin=origin,
        )
    return membership


def remove_member(actor: User, membership: Membership, *, origin: Origin | None = None) -> None:
    with transaction.atomic(durable=True):
        membership = (
            Membership.objects.select_for_update()
            .select_related("user", "organization")
            .get(pk=membership.pk)
        )
        organization = membership.organization
        if membership.role == Role.OWNER:
            if not acts_as_owner(actor, organization):
                raise ActionError("Only an owner can remove an owner.", "owner_required")
            if _owner_count(organization) == 1:
                raise ActionError(
                    f"{membership.user.email} is the last owner of {organization.name} "
                    "and cannot be removed.",
                    "last_owner",
                )
        record_audit(
            actor,
            "membership.removed",
            organization=organization,
            target=membership,
            origin=origin,
            details={"email": membership.user.email, "role": membership.role},
        )
        revoke_keys_beyond_role(
            actor,
            membership.user,
            organization,
            None,
            reason=f"Its creator {membership.user.email} left the organization.",
            origin=origin,
        )
        membership.delete()
