"""API key actions: create a key with a scope and expiry, revoke it, revoke the
keys a member's new role may not hold, and mark migrated keys as reviewed."""

from __future__ import annotations

import datetime
from typing import cast

from django.db import transaction
from django.utils import timezone

from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import SCOPE_HOLDERS, ApiKeyScope, Membership, Organization, OrganizationAPIKey, User
from portal.verified_keys import forget_verified_keys_on_commit


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
    forget_verified_keys_on_commit()  # other processes: within KEY_STALENESS
    record_audit(
        actor,
        "api_key.revoked",
        organization=api_key.organization,
        target=api_key,
        origin=origin,
        details={"name": api_key.name, "prefix": api_key.prefix, "scope": api_key.scope, "reason": reason},
    )


def revoke_keys_beyond_role(
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
