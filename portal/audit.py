"""The audit trail: where a change came from (`Origin`, read off a request by
`origin_of`) and the one function that appends an entry to the log (and the
entry it appends, for a statement that writes it with other rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from axes.helpers import get_client_ip_address
from django.db.models import Model
from django.http import HttpRequest
from rest_framework.request import Request

from portal.models import AuditEntry, Organization, User


@dataclass(frozen=True)
class Origin:
    """Where a change came from, for the audit log."""

    ip_address: str | None = None
    base_url: str = ""


def origin_of(request: HttpRequest | Request) -> Origin:
    """The audit origin of a page or API request: the client's address and the
    portal's base URL. Behind a reverse proxy (PROXY_COUNT) the address comes
    from X-Forwarded-For through the same rule as sign-in throttling (django-axes'
    ipware settings), so the log names the client, not the proxy."""
    http_request = request._request if isinstance(request, Request) else request
    return Origin(
        ip_address=get_client_ip_address(http_request),
        base_url=http_request.build_absolute_uri("/").rstrip("/"),
    )


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
    entry = audit_entry(
        actor,
        action,
        organization=organization,
        target=target,
        origin=origin,
        details=details,
        actor_email=actor_email,
    )
    entry.save(force_insert=True)
    return entry


def audit_entry(
    actor: User | None,
    action: str,
    *,
    organization: Organization | None = None,
    target: Model | None = None,
    origin: Origin | None = None,
    details: dict[str, Any] | None = None,
    actor_email: str = "",
) -> AuditEntry:
    """The entry `record_audit` appends, unsaved: for an action that writes it
    in the same statement as its other rows (`capabilities.actions.start_job_with_row`)."""
    return AuditEntry(
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
