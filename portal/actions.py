"""State changes of the tenancy app. Each action takes the acting user, runs in
its own transaction, writes its audit entry and defers side effects (email)
until the transaction has committed."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.template.loader import render_to_string
from django.utils import timezone

from portal.models import (
    SCOPE_HOLDERS,
    ApiKeyScope,
    AuditEntry,
    Invitation,
    Membership,
    Organization,
    OrganizationAPIKey,
    Role,
    User,
    hash_token,
)


class ActionError(Exception):
    """A state change refused for a reason the user can act on."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Origin:
    """Where a change came from, for the audit log."""

    ip_address: str | None = None
    base_url: str = ""


def record_audit(
    actor: User | None,
    action: str,
    *,
    organization: Organization | None = None,
    target: Model | None = None,
    origin: Origin | None = None,
    details: dict[str, Any] | None = None,
    actor_email: str = "",
) -> AuditEntry:
    """Append one entry to the audit log. Call inside the action's transaction."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_email=actor.email if actor is not None and actor.pk else actor_email,
        organization=organization,
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip_address=origin.ip_address if origin else None,
        details=details or {},
    )


def _acts_as_owner(actor: User, organization: Organization) -> bool:
    if actor.is_staff:
        return True
    return Membership.objects.filter(user=actor, organization=organization, role=Role.OWNER).exists()


def _owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).count()


# --- organizations ---------------------------------------------------------


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
            invitation = _invite(actor, organization, owner_email, Role.OWNER, origin)
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
        record_audit(
            actor,
            "organization.reactivated",
            organization=organization,
            target=organization,
            origin=origin,
        )
    return organization


# --- invitations and memberships -------------------------------------------


def _invite(
    actor: User, organization: Organization, email: str, role: str, origin: Origin | None
) -> Invitation:
    token = Invitation.new_token()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=actor,
        expires_at=timezone.now() + settings.INVITATION_TTL,
    )
    record_audit(
        actor,
        "invitation.created",
        organization=organization,
        target=invitation,
        origin=origin,
        details={"email": email, "role": role},
    )
    base_url = origin.base_url if origin else ""
    transaction.on_commit(lambda: _send_invitation_email(invitation, token, base_url))
    return invitation


def _send_invitation_email(invitation: Invitation, token: str, base_url: str) -> None:
    context = {
        "invitation": invitation,
        "accept_url": f"{base_url}/invitations/{token}/",
        "expires_at": invitation.expires_at,
    }
    send_mail(
        subject=f"You're invited to {invitation.organization.name} on Switchboard",
        message=render_to_string("portal/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def invite_member(
    actor: User,
    organization: Organization,
    *,
    email: str,
    role: str,
    origin: Origin | None = None,
) -> Invitation:
    email = email.strip().lower()
    if role == Role.OWNER and not _acts_as_owner(actor, organization):
        raise ActionError("Only an owner can invite another owner.", "owner_required")
    with transaction.atomic(durable=True):
        if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
            raise ActionError(f"{email} is already a member of {organization.name}.", "already_member")
        pending = Invitation.objects.filter(
            organization=organization,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        if pending.exists():
            raise ActionError(
                f"{email} already has a pending invitation; revoke it to send a new one.",
                "already_invited",
            )
        return _invite(actor, organization, email, role, origin)


def find_invitation(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )


def accept_invitation(
    token: str,
    *,
    user: User | None,
    full_name: str = "",
    password: str = "",
    origin: Origin | None = None,
) -> Membership:
    """Join the invitation's organization. A signed-in user joins as themselves;
    otherwise an account is created for the invited address with `password`."""
    with transaction.atomic(durable=True):
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("organization")
            .filter(token_hash=hash_token(token))
            .first()
        )
        if invitation is None or invitation.status != "pending":
            status = invitation.status if invitation else "unknown"
            raise ActionError(
                {
                    "accepted": "This invitation has already been used.",
                    "revoked": "This invitation was revoked. Ask for a new one.",
                    "expired": "This invitation has expired. Ask for a new one.",
                    "unknown": "This invitation link is not valid.",
                }[status],
                f"invitation_{status}",
            )
        if user is None:
            if User.objects.filter(email__iexact=invitation.email).exists():
                raise ActionError(
                    "An account with this email exists: sign in first, then open the link again.",
                    "sign_in_required",
                )
            user = User.objects.create_user(invitation.email, password, full_name=full_name)
            record_audit(
                user,
                "user.created",
                organization=invitation.organization,
                target=user,
                origin=origin,
                details={"via": "invitation"},
            )
        elif user.email.lower() != invitation.email.lower():
            raise ActionError(
                f"This invitation is for {invitation.email}; you are signed in as {user.email}.",
                "wrong_user",
            )
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    user=user, organization=invitation.organization, role=invitation.role
                )
        except IntegrityError:
            raise ActionError(
                f"You are already a member of {invitation.organization.name}.", "already_member"
            ) from None
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        record_audit(
            user,
            "invitation.accepted",
            organization=invitation.organization,
            target=invitation,
            origin=origin,
            details={"email": invitation.email, "role": invitation.role},
        )
        record_audit(
            user,
            "membership.created",
            organization=invitation.organization,
            target=membership,
            origin=origin,
            details={"email": user.email, "role": membership.role, "via": "invitation"},
        )
    return membership


def revoke_invitation(actor: User, invitation: Invitation, *, origin: Origin | None = None) -> Invitation:
    with transaction.atomic(durable=True):
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_pending:
            raise ActionError(f"This invitation is already {invitation.status}.", "not_pending")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        record_audit(
            actor,
            "invitation.revoked",
            organization=invitation.organization,
            target=invitation,
            origin=origin,
            details={"email": invitation.email},
        )
    return invitation


def expire_invitations() -> int:
    """Record, once, each pending invitation that has passed its expiry, so the
    audit log shows when an invitation lapsed unused."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        lapsed = list(
            Invitation.objects.select_for_update(skip_locked=True)
            .select_related("organization")
            .filter(
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expired_noted_at__isnull=True,
                expires_at__lte=now,
            )[:500]
        )
        for invitation in lapsed:
            invitation.expired_noted_at = now
            invitation.save(update_fields=["expired_noted_at"])
            record_audit(
                None,
                "invitation.expired",
                organization=invitation.organization,
                target=invitation,
                details={"email": invitation.email},
                actor_email="system",
            )
    return len(lapsed)


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
        if Role.OWNER in (old_role, role) and not _acts_as_owner(actor, organization):
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
        _revoke_keys_beyond(
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
            if not _acts_as_owner(actor, organization):
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
        _revoke_keys_beyond(
            actor,
            membership.user,
            organization,
            None,
            reason=f"Its creator {membership.user.email} left the organization.",
            origin=origin,
        )
        membership.delete()


# --- API keys --------------------------------------------------------------


def _key_expiry(expires_on: datetime.date | None) -> datetime.datetime | None:
    """A key is valid through its expiry date: it expires as that day ends (UTC)."""
    if expires_on is None:
        return None
    if expires_on < timezone.now().date():
        raise ActionError("The expiry date is in the past; choose today or a later day.", "expiry_in_past")
    return datetime.datetime.combine(expires_on + datetime.timedelta(days=1), datetime.time(), datetime.UTC)


def create_api_key(
    actor: User,
    organization: Organization,
    *,
    name: str,
    scope: str,
    expires_on: datetime.date | None = None,
    origin: Origin | None = None,
) -> tuple[OrganizationAPIKey, str]:
    """Create a key and return it with its secret, which is never stored. The key
    lives while `actor` holds a role that may hold its scope (SCOPE_HOLDERS)."""
    if scope not in ApiKeyScope.values:
        raise ActionError(f"“{scope}” is not a key scope: choose read, use or manage.", "invalid_scope")
    expiry_date = _key_expiry(expires_on)
    with transaction.atomic(durable=True):
        membership = Membership.objects.filter(user=actor, organization=organization).first()
        if membership is None or membership.role not in SCOPE_HOLDERS[scope]:
            raise ActionError(
                f"A key with the {scope} scope needs a creator whose role allows it; yours does not.",
                "scope_not_allowed",
            )
        created, secret = OrganizationAPIKey.objects.create_key(
            name=name, organization=organization, created_by=actor, scope=scope, expiry_date=expiry_date
        )
        api_key = cast(OrganizationAPIKey, created)
        record_audit(
            actor,
            "api_key.created",
            organization=organization,
            target=api_key,
            origin=origin,
            details={
                "name": name,
                "prefix": api_key.prefix,
                "scope": scope,
                "expires": expiry_date.isoformat() if expiry_date else None,
            },
        )
    return api_key, secret


def _revoke(actor: User | None, api_key: OrganizationAPIKey, *, reason: str, origin: Origin | None) -> None:
    api_key.revoked = True
    api_key.revoked_at = timezone.now()
    api_key.revoked_reason = reason
    api_key.scope_migrated = False
    api_key.save(update_fields=["revoked", "revoked_at", "revoked_reason", "scope_migrated"])
    record_audit(
        actor,
        "api_key.revoked",
        organization=api_key.organization,
        target=api_key,
        origin=origin,
        details={"name": api_key.name, "prefix": api_key.prefix, "scope": api_key.scope, "reason": reason},
    )


def _revoke_keys_beyond(
    actor: User,
    creator: User,
    organization: Organization,
    role: str | None,
    *,
    reason: str,
    origin: Origin | None,
) -> None:
    """Inside a membership change: revoke the keys `creator` made in `organization`
    whose scope their new `role` (None: no longer a member) may not hold."""
    keys = OrganizationAPIKey.objects.select_for_update().filter(
        organization=organization, created_by=creator, revoked=False
    )
    for api_key in keys:
        if role is None or role not in SCOPE_HOLDERS[api_key.scope]:
            _revoke(actor, api_key, reason=reason, origin=origin)


def revoke_api_key(
    actor: User, api_key: OrganizationAPIKey, *, origin: Origin | None = None
) -> OrganizationAPIKey:
    with transaction.atomic(durable=True):
        api_key = OrganizationAPIKey.objects.select_for_update().get(pk=api_key.pk)
        if api_key.revoked:
            raise ActionError("This key is already revoked.", "already_revoked")
        _revoke(actor, api_key, reason=f"Revoked by {actor.email}.", origin=origin)
    return api_key


def review_migrated_api_keys(actor: User, organization: Organization, *, origin: Origin | None = None) -> int:
    """An owner or admin has reviewed the keys that became `manage` when scopes
    came: the keys page stops asking. Returns how many keys were marked."""
    with transaction.atomic(durable=True):
        keys = OrganizationAPIKey.objects.select_for_update().filter(
            organization=organization, scope_migrated=True
        )
        prefixes = sorted(key.prefix for key in keys)
        if not prefixes:
            return 0
        OrganizationAPIKey.objects.filter(organization=organization, scope_migrated=True).update(
            scope_migrated=False
        )
        record_audit(
            actor,
            "api_key.scopes_reviewed",
            organization=organization,
            origin=origin,
            details={"prefixes": prefixes},
        )
    return len(prefixes)
