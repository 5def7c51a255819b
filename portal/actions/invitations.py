"""Invitation actions: invite someone to an organization by email, accept an
invitation (creating the account when needed), revoke one, and note the ones
that lapsed unused."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from portal.actions.errors import ActionError
from portal.actions.memberships import acts_as_owner
from portal.audit import Origin, record_audit
from portal.models import Invitation, Membership, Organization, Role, User, hash_token


def create_invitation(
    actor: User, organization: Organization, email: str, role: str, origin: Origin | None
) -> Invitation:
    """Inside an action's transaction: create the invitation, audit it, and email
    its link once the transaction has committed."""
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
    if role == Role.OWNER and not acts_as_owner(actor, organization):
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
        return create_invitation(actor, organization, email, role, origin)


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
