"""Read models of capability requests for the pages, the API and the
navigation's badge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.contrib.postgres.aggregates import JSONBAgg
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone

from capabilities.approvals.models import ApprovalPolicy, CapabilityRequest
from portal.models import MANAGING_ROLES, Membership, Organization, User

PENDING = "pending"
DECIDED = "decided"


def visible_requests(organization: Organization, membership: Membership) -> QuerySet[CapabilityRequest]:
    """The requests a person sees: owners and admins all of the organization's,
    others their own."""
    rows = CapabilityRequest.objects.filter(organization=organization).select_related(
        "requested_by", "decided_by"
    )
    if membership.role not in MANAGING_ROLES:
        rows = rows.filter(requested_by=membership.user)
    return rows


def filtered(rows: QuerySet[CapabilityRequest], status: str) -> QuerySet[CapabilityRequest]:
    """`pending`: waiting for a decision (not past their time); `decided`:
    approved, declined or expired (past their time counts, before beat marks it)."""
    now = timezone.now()
    waiting = Q(status=CapabilityRequest.Status.PENDING, expires_at__gt=now)
    if status == DECIDED:
        return rows.exclude(waiting).order_by("-decided_at", "-requested_at", "-id")
    return rows.filter(waiting)


@dataclass(frozen=True)
class PendingRequest:
    pk: int
    capability_key: str
    enabled: bool
    requested_by_id: int
    expires_at: datetime


@dataclass(frozen=True)
class ApprovalState:
    """What every page of an organization needs to know about approvals: the
    pending requests (the badge, the catalog's cards) and whether its policy
    makes switch-ons wait (the catalog asks first). Cached (see `state`)."""

    pending: tuple[PendingRequest, ...]
    policy_active: bool

    def awaiting(self, user_id: int, now: datetime) -> int:
        """How many pending requests `user_id` (an owner or admin) can decide: all but their own."""
        return sum(1 for row in self.pending if row.requested_by_id != user_id and row.expires_at > now)

    def requested_on(self, now: datetime) -> dict[str, PendingRequest]:
        """The pending switch-on request of each capability."""
        return {row.capability_key: row for row in self.pending if row.enabled and row.expires_at > now}


CACHE_SECONDS = 300


def _cache_key(organization_id: int) -> str:
    return f"approvals:state:{organization_id}"


def state(organization: Organization) -> ApprovalState:
    """The organization's approval state: from the shared cache (no query on a
    page), else two queries. Every change forgets it after commit (`forget`);
    time-based expiry is read against the clock, so a stale entry only lives
    CACHE_SECONDS if a forget is lost."""
    key = _cache_key(organization.pk)
    found = cache.get(key)
    if isinstance(found, ApprovalState):
        return found
    found = _read_state(organization)
    cache.set(key, found, CACHE_SECONDS)
    return found


def _read_state(organization: Organization) -> ApprovalState:
    """The state in one query: the policy's flag and the pending rows (as JSON)."""
    pending = (
        CapabilityRequest.objects.filter(organization=OuterRef("pk"), status=CapabilityRequest.Status.PENDING)
        .order_by()
        .values("organization")
        .annotate(
            rows=JSONBAgg(
                JSONObject(
                    pk="pk",
                    capability_key="capability_key",
                    enabled="enabled",
                    requested_by_id="requested_by_id",
                    expires_at="expires_at",
                )
            )
        )
        .values("rows")
    )
    active = ApprovalPolicy.objects.filter(organization=OuterRef("pk")).filter(
        Q(every_switch_on=True) | Q(cost_limit__isnull=False)
    )
    policy_active, rows = (
        Organization.objects.filter(pk=organization.pk)
        .annotate(policy_active=Exists(active), pending=Subquery(pending))
        .values_list("policy_active", "pending")
        .get()
    )
    return ApprovalState(
        pending=tuple(
            PendingRequest(
                pk=row["pk"],
                capability_key=row["capability_key"],
                enabled=row["enabled"],
                requested_by_id=row["requested_by_id"],
                expires_at=datetime.fromisoformat(row["expires_at"]),
            )
            for row in rows or []
        ),
        policy_active=bool(policy_active),
    )


def forget(organization_id: int) -> None:
    cache.delete(_cache_key(organization_id))


def forget_on_change(organization_id: int) -> None:
    """Called inside a change's transaction: forget now and again after commit
    (a page read between the two may cache the state before the change)."""
    forget(organization_id)
    transaction.on_commit(partial(forget, organization_id))


def awaiting_decision(organization: Organization, user: User) -> int:
    """The navigation's badge for an owner or admin."""
    return state(organization).awaiting(user.pk, timezone.now())


def request_of(organization: Organization, request_id: int) -> CapabilityRequest | None:
    return (
        CapabilityRequest.objects.select_related("organization", "requested_by", "decided_by")
        .filter(organization=organization, pk=request_id)
        .first()
    )
