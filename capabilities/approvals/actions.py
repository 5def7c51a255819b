"""State changes of capability requests: asking, approving (which carries the
switch out through the toggle action), declining, expiring; and the approval
policy (an organization's cost limit, an IT admin's every-switch-on rule).
Each runs in its own transaction, writes the audit log, and emails after
commit."""

from __future__ import annotations

import logging
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from capabilities import actions as toggle_actions
from capabilities.approvals import queries
from capabilities.approvals.models import ApprovalPolicy, CapabilityRequest
from capabilities.approvals.policy import approval_needed
from capabilities.models import FeatureToggle
from capabilities.registry import registry
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import MANAGING_ROLES, Membership, Organization, User

logger = logging.getLogger(__name__)


class RequestNotPending(ActionError):
    """Decided or expired already: nothing to decide."""


def _role(user: User, organization: Organization) -> str | None:
    return (
        Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True).first()
    )


def can_switch(user: User, organization: Organization) -> bool:
    return _role(user, organization) in MANAGING_ROLES


def request_capability(
    actor: User,
    organization: Organization,
    key: str,
    *,
    reason: str,
    enabled: bool = True,
    origin: Origin | None = None,
) -> CapabilityRequest:
    """Ask the organization's owners and admins to switch `key` (on, unless
    `enabled` is False), with a reason. A member asks for any switch; an owner
    or admin asks only for a switch the approval policy holds (otherwise they
    switch it themselves). Owners and admins are emailed after commit."""
    if key not in registry():
        raise ActionError(f"No capability {key!r} is installed.", "unknown_capability")
    capability = registry().get(key)
    role = _role(actor, organization)
    if role is None:
        raise ActionError("Only members of the organization can ask for a capability.", "not_a_member")
    reason = reason.strip()
    if not reason:
        raise ActionError(
            "Say why you need it: the owners and admins decide on your reason.", "reason_required"
        )
    toggle = FeatureToggle.objects.filter(organization=organization, capability_key=key).first()
    if toggle is not None and toggle.locked:
        raise ActionError(
            f"{capability.title} is locked by your platform administrator"
            f"{': ' + toggle.locked_reason if toggle.locked_reason else ''}; ask them, not your owners.",
            "capability_locked",
        )
    if bool(toggle and toggle.enabled) == enabled:
        raise ActionError(f"{capability.title} is already {'on' if enabled else 'off'}.", "already_in_state")
    needed = None
    if enabled:
        needed = approval_needed(
            organization, key, [key, *toggle_actions.plan_change(organization, key, True)]
        )
    if role in MANAGING_ROLES and needed is None:
        raise ActionError(
            f"You can switch {capability.title} {'on' if enabled else 'off'} yourself; "
            "no approval is needed.",
            "no_approval_needed",
        )
    why = CapabilityRequest.Why.MEMBER if role not in MANAGING_ROLES or needed is None else needed.why
    now = timezone.now()
    try:
        with transaction.atomic(durable=True):
            request = CapabilityRequest.objects.create(
                organization=organization,
                capability_key=key,
                enabled=enabled,
                reason=reason[:300],
                why=why,
                requested_by=actor,
                requested_at=now,
                expires_at=now + settings.CAPABILITY_REQUEST_TTL,
                estimate=needed.estimate if needed else None,
                estimate_currency=needed.currency if needed else "",
            )
            record_audit(
                actor,
                "capability_request.created",
                organization=organization,
                target=request,
                origin=origin,
                details={"capability": key, "enabled": enabled, "reason": request.reason, "why": why},
            )
            queries.forget_on_change(organization.pk)
            transaction.on_commit(lambda: _email_deciders(request))
    except IntegrityError:
        raise ActionError(
            f"Switching {capability.title} {'on' if enabled else 'off'} is already asked for and waits "
            "for a decision.",
            "already_requested",
        ) from None
    return request


def _pending_for_update(request: CapabilityRequest) -> CapabilityRequest:
    locked = CapabilityRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != CapabilityRequest.Status.PENDING:
        raise RequestNotPending(
            f"This request was {locked.get_status_display().lower()} already.", "already_decided"
        )
    if locked.expires_at <= timezone.now():
        raise RequestNotPending(
            "This request has expired; ask again if it is still needed.", "request_expired"
        )
    return locked


def _check_decider(actor: User, request: CapabilityRequest) -> None:
    if not can_switch(actor, request.organization):
        raise ActionError("Only owners and admins decide on requests.", "manager_required")
    if actor.pk == request.requested_by_id:
        raise ActionError(
            "You can't decide on your own request: another owner or admin has to.", "own_request"
        )


def approve_request(
    actor: User, request: CapabilityRequest, *, note: str = "", origin: Origin | None = None
) -> toggle_actions.ToggleResult:
    """Approve and carry out the switch, in one transaction: the same action
    as a manual switch (dependencies switch along, locks refuse). When it can't
    be applied, nothing changes, the request stays pending, and the refusal's
    reason is raised. The requester is emailed after commit."""
    _check_decider(actor, request)
    organization = request.organization
    note = note.strip()[:500]
    failure: ActionError | None = None
    with transaction.atomic(durable=True):
        locked = _pending_for_update(request)
        why = f"Asked by {locked.requested_by.email}: {locked.reason}"
        if note:
            why += f" — approved: {note}"
        try:  # the switch runs in a savepoint: refused, it leaves nothing behind
            result = toggle_actions.apply_approved_switch(
                actor, organization, locked.capability_key, enabled=locked.enabled, reason=why, origin=origin
            )
        except ActionError as refusal:
            failure = refusal
            record_audit(
                actor,
                "capability_request.approval_failed",
                organization=organization,
                target=locked,
                origin=origin,
                details={
                    "capability": locked.capability_key,
                    "reason": refusal.message,
                    "code": refusal.code,
                },
            )
        else:
            _decide(
                actor, locked, CapabilityRequest.Status.APPROVED, note, origin, {"changed": result.changed}
            )
    if failure is not None:
        raise ActionError(
            f"The request can't be carried out, so it stays pending: {failure.message}", failure.code
        )
    request.refresh_from_db()
    return result


def decline_request(
    actor: User, request: CapabilityRequest, *, note: str = "", origin: Origin | None = None
) -> CapabilityRequest:
    """Decline with a note for the requester (emailed after commit)."""
    _check_decider(actor, request)
    with transaction.atomic(durable=True):
        locked = _pending_for_update(request)
        _decide(actor, locked, CapabilityRequest.Status.DECLINED, note.strip()[:500], origin, {})
    request.refresh_from_db()
    return request


def _decide(
    actor: User,
    request: CapabilityRequest,
    status: str,
    note: str,
    origin: Origin | None,
    details: dict[str, object],
) -> None:
    request.status = status
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.note = note
    request.save(update_fields=["status", "decided_by", "decided_at", "note"])
    record_audit(
        actor,
        f"capability_request.{status}",
        organization=request.organization,
        target=request,
        origin=origin,
        details={"capability": request.capability_key, "enabled": request.enabled, "note": note, **details},
    )
    organization_id = request.organization_id
    queries.forget_on_change(organization_id)
    transaction.on_commit(lambda: _email_requester(request.pk))


def expire_requests() -> int:
    """Mark pending requests past their time expired (beat, hourly), audit
    each and tell the requester. Returns how many expired."""
    now = timezone.now()
    expired = 0
    due = CapabilityRequest.objects.filter(status=CapabilityRequest.Status.PENDING, expires_at__lte=now)
    for request_id in due.values_list("pk", flat=True):
        with transaction.atomic(durable=True):
            claimed = (
                CapabilityRequest.objects.select_for_update(skip_locked=True)
                .filter(pk=request_id, status=CapabilityRequest.Status.PENDING, expires_at__lte=now)
                .first()
            )
            if claimed is None:
                continue
            claimed.status = CapabilityRequest.Status.EXPIRED
            claimed.decided_at = now
            claimed.save(update_fields=["status", "decided_at"])
            record_audit(
                None,
                "capability_request.expired",
                organization=claimed.organization,
                target=claimed,
                details={"capability": claimed.capability_key, "enabled": claimed.enabled},
                actor_email="Switchboard",
            )
            queries.forget_on_change(claimed.organization_id)
            transaction.on_commit(partial(_email_requester, claimed.pk))
            expired += 1
    return expired


# --- the approval policy ------------------------------------------------------


def set_cost_limit(
    actor: User, organization: Organization, *, limit: Decimal | None, origin: Origin | None = None
) -> ApprovalPolicy:
    """Owners and admins set (or clear, with None) the monthly cost above which
    switching a paid capability on needs a second person's approval."""
    if not can_switch(actor, organization):
        raise ActionError("Only owners and admins set the approval limit.", "manager_required")
    if limit is not None and limit < 0:
        raise ActionError("The limit can't be negative.", "invalid_limit")
    with transaction.atomic(durable=True):
        policy, _ = ApprovalPolicy.objects.select_for_update().get_or_create(organization=organization)
        before = policy.cost_limit
        policy.cost_limit = limit
        policy.updated_by = actor
        policy.updated_at = timezone.now()
        policy.save()
        record_audit(
            actor,
            "approval_policy.cost_limit",
            organization=organization,
            target=policy,
            origin=origin,
            details={
                "from": str(before) if before is not None else None,
                "to": str(limit) if limit is not None else None,
            },
        )
        queries.forget_on_change(organization.pk)
    return policy


def require_approval_for_every_switch_on(
    actor: User, organization: Organization, *, required: bool, reason: str = "", origin: Origin | None = None
) -> ApprovalPolicy:
    """An IT admin makes every switch-on in the tenant a request (with a
    reason the organization sees), or lifts that rule."""
    if not actor.is_staff:
        raise ActionError("Only IT admins set this rule.", "it_admin_required")
    reason = reason.strip()[:300]
    if required and not reason:
        raise ActionError("Give a reason: the organization sees it when it asks.", "reason_required")
    with transaction.atomic(durable=True):
        policy, _ = ApprovalPolicy.objects.select_for_update().get_or_create(organization=organization)
        policy.every_switch_on = required
        policy.every_switch_on_reason = reason if required else ""
        policy.updated_by = actor
        policy.updated_at = timezone.now()
        policy.save()
        record_audit(
            actor,
            "approval_policy.every_switch_on",
            organization=organization,
            target=policy,
            origin=origin,
            details={"required": required, "reason": reason},
        )
        queries.forget_on_change(organization.pk)
    return policy


# --- emails ---------------------------------------------------------------------


def _link(request: CapabilityRequest) -> str:
    status = queries.PENDING if request.is_pending else queries.DECIDED
    return f"{settings.PORTAL_URL}{reverse('capability_requests')}?status={status}"


def _email_deciders(request: CapabilityRequest) -> None:
    """Tell the organization's owners and admins (not the requester) that a request waits."""
    to = sorted(
        Membership.objects.filter(
            organization=request.organization, role__in=MANAGING_ROLES, user__is_active=True
        )
        .exclude(user_id=request.requested_by_id)
        .values_list("user__email", flat=True)
    )
    if not to:
        return
    context = {"request": request, "link": _link(request)}
    try:
        send_mail(
            subject=f"[{request.organization.name}] {request.requested_by.display_name} asks to switch "
            f"{'on' if request.enabled else 'off'} {request.title}",
            message=render_to_string("approvals/email/requested.txt", context),
            from_email=None,
            recipient_list=to,
        )
    except Exception:
        logger.exception("Could not email the deciders of capability request %s", request.pk)


def _email_requester(request_id: int) -> None:
    request = CapabilityRequest.objects.select_related("organization", "requested_by", "decided_by").get(
        pk=request_id
    )
    context = {"request": request, "link": _link(request)}
    try:
        send_mail(
            subject=f"[{request.organization.name}] Your request for {request.title} was "
            f"{request.get_status_display().lower()}",
            message=render_to_string("approvals/email/decided.txt", context),
            from_email=None,
            recipient_list=[request.requested_by.email],
        )
    except Exception:
        logger.exception("Could not email the requester of capability request %s", request_id)
