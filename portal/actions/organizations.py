"""Organization actions: create one with its first owner, suspend it and
reactivate it (platform staff)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.actions.errors import ActionError
from portal.actions.invitations import create_invitation
from portal.audit import Origin, record_audit
from portal.models import Invitation, Membership, Organization, Role, User
from portal.verified_keys import forget_verified_keys_on_commit


def create_organization(
    actor: User, *, name: str, slug: str, owner_email: str, origin: Origin | None = None
) -> tuple[Organization, Invitation | None]:
    """Create an organization with its first owner. An existing user becomes the
    owner at once; anyone else is invited as owner by email."""
    owner_email = owner_email.strip().lower()
    with transaction.atomic(durable=True):
        if Organization.objects.filter(slug=slug).exists():
            raise ActionError(f"The slug “{slug}” is taken by another organization.", "slug_taken")
        organization = Organization.objects.create(name=name, slug=slug)
        record_audit(
            actor,
            "organization.created",
            organization=organization,
            target=organization,
            origin=origin,
            details={"name": name, "slug": slug, "owner_email": owner_email},
        )
        owner = User.objects.filter(email__iexact=owner_email).first()
        invitation = None
        if owner is not None:
            membership = Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
            record_audit(
                actor,
                "membership.created",
                organization=organization,
                target=membership,
                origin=origin,
                details={"email": owner.email, "role": Role.OWNER},
            )
        else:
            invitation = create_invitation(actor, organization, owner_email, Role.OWNER, origin)
    return organization, invitation


def suspend_organization(
    actor: User, organization: Organization, *, reason: str, origin: Origin | None = None
) -> Organization:
    with transaction.atomic(durable=True):
        organization = Organization.objects.select_for_update().get(pk=organization.pk)
        if not organization.is_active:
            raise ActionError(f"{organization.name} is already suspended.", "already_suspended")
        organization.status = Organization.Status.SUSPENDED
        organization.suspended_reason = reason
        organization.suspended_at = timezone.now()
        organization.save(update_fields=["status", "suspended_reason", "suspended_at"])
        forget_verified_keys_on_commit()  # its keys' remembered organization; others within KEY_STALENESS
        record_audit(
            actor,
            "organization.suspended",
            organization=organization,
            target=organization,
            origin=origin,
            details={"reason": reason},
        )
    return organization


def reactivate_organization(
    actor: User, organization: Organization, *, origin: Origin | None = None
) -> Organization:
    with transaction.atomic(durable=True):
        organization = Organization.objects.select_for_update().get(pk=organization.pk)
        if organization.is_active:
            raise ActionError(f"{organization.name} is already active.", "already_active")
        organization.status = Organization.Status.ACTIVE
        organization.suspended_reason = ""
        organization.suspended_at = None
        organization.save(update_fields=["status", "suspended_reason", "suspended_at"])
        forget_verified_keys_on_commit()
        record_audit(
            actor,
            "organization.reactivated",
            organization=organization,
            target=organization,
            origin=origin,
        )
    return organization
