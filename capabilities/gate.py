"""The one way to ask "is this capability on for this organization?".

Every request and every job asks, so the answer comes from an in-process
snapshot of each organization's enabled set. A snapshot is trusted for
`STALENESS` seconds; after that one cache read of the organization's version
stamp either confirms it or triggers a reload from the database. A change
writes a new stamp after it commits, so every process sees it within
`STALENESS` plus one cache round trip (well under the 1 s target).

The cache only speeds this up. While it is unreachable the snapshots are read
from the database every `STALENESS`, and a snapshot is reloaded at least every
`MAX_AGE` whatever its stamp says, so a change whose stamp was lost in an
outage is seen within a minute.

This module owns the rule, in every form it is asked in: the snapshot above
for requests and jobs; `enabled_in_database` and `organizations_with_any_on`
for code that must read the record itself (billing's sync, invoices and
standing); and `enabled_condition`, the same rule as one SQL condition, which
the job runner's claim puts inside its single statement (so a job queued before
its capability was switched off is refused when a worker picks it up).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.cache import cache

if TYPE_CHECKING:
    from portal.models import Organization

STALENESS = 0.5  # seconds a snapshot is trusted without looking at its stamp
# Seconds a snapshot is kept, whatever its stamp says: a change whose stamp was
# lost (the cache was down when it committed) is seen within this bound.
MAX_AGE = 60.0
_VERSION_KEY = "capabilities:toggles:v:{}"


@dataclass(frozen=True)
class BudgetStop:
    """A `stop` budget (or platform cap) that is reached: what it covers and
    the figures a refusal states."""

    budget_id: int
    capability: str | None  # None: every capability
    amount: Decimal
    spent: Decimal  # committed, with what is in flight
    currency: str
    platform: bool

    def covers(self, key: str) -> bool:
        return self.capability is None or self.capability == key


@dataclass(slots=True)
class _Snapshot:
    version: str
    enabled: frozenset[str]
    validated_at: float
    loaded_at: float
    stops: tuple[BudgetStop, ...] = ()
    locked: frozenset[str] = frozenset()
    # Capability key -> (channel, pinned version or "", the pin's reason), for
    # the capabilities not simply on stable (capabilities.releases).
    releases: dict[str, tuple[str, str, str]] = field(default_factory=dict)


logger = logging.getLogger(__name__)
_snapshots: dict[int, _Snapshot] = {}
_lock = threading.Lock()
_clock = time.monotonic


def is_enabled(organization: Organization | int, key: str) -> bool:
    """True when capability `key` is switched on for `organization` (an
    Organization or its primary key)."""
    org_id = organization if isinstance(organization, int) else organization.pk
    snapshot = _snapshots.get(org_id)
    if snapshot is None or _clock() - snapshot.validated_at > STALENESS:
        snapshot = _refresh(org_id, snapshot)
    return key in snapshot.enabled


def budget_stop(organization: Organization | int, key: str) -> BudgetStop | None:
    """The reached `stop` budget that covers capability `key` of
    `organization`, if any (from the same snapshot as `is_enabled`; a budget's
    change or a charge that reaches it announces itself like a toggle change)."""
    org_id = organization if isinstance(organization, int) else organization.pk
    snapshot = _snapshots.get(org_id)
    if snapshot is None or _clock() - snapshot.validated_at > STALENESS:
        snapshot = _refresh(org_id, snapshot)
    for stop in snapshot.stops:
        if stop.covers(key):
            return stop
    return None


def enabled_keys(organization: Organization | int) -> frozenset[str]:
    """The set of capabilities switched on for `organization`."""
    org_id = organization if isinstance(organization, int) else organization.pk
    snapshot = _snapshots.get(org_id)
    if snapshot is None or _clock() - snapshot.validated_at > STALENESS:
        snapshot = _refresh(org_id, snapshot)
    return snapshot.enabled


def locked_keys(organization: Organization | int) -> frozenset[str]:
    """The capabilities an IT admin locked (on or off) for `organization`,
    from the same snapshot (flag evaluations over OFREP state it)."""
    org_id = organization if isinstance(organization, int) else organization.pk
    snapshot = _snapshots.get(org_id)
    if snapshot is None or _clock() - snapshot.validated_at > STALENESS:
        snapshot = _refresh(org_id, snapshot)
    return snapshot.locked


def release_choice(organization: Organization | int, key: str) -> tuple[str, str, str]:
    """`organization`'s channel for capability `key`, the version an IT admin
    pinned it to ("" for none) and why, from the same snapshot (what a job is
    queued with, what OFREP and the catalog state)."""
    org_id = organization if isinstance(organization, int) else organization.pk
    snapshot = _snapshots.get(org_id)
    if snapshot is None or _clock() - snapshot.validated_at > STALENESS:
        snapshot = _refresh(org_id, snapshot)
    return snapshot.releases.get(key, ("stable", "", ""))


def _refresh(org_id: int, snapshot: _Snapshot | None) -> _Snapshot:
    with _lock:
        now = _clock()
        try:
            version = _stamp(org_id)
        except Exception:
            # The cache (Redis) is unreachable: answer from the database, which
            # is the record. Every STALENESS this process reads the rows again,
            # until the cache answers; nobody gets an error for Redis's outage.
            logger.warning("Toggle stamps unreachable; reading toggles from the database", exc_info=True)
            enabled, stops, locked, releases = _load(org_id)
            fresh = _Snapshot("", enabled, now, now, stops, locked, releases)
            _snapshots[org_id] = fresh
            return fresh
        if snapshot is not None and snapshot.version == version and now - snapshot.loaded_at < MAX_AGE:
            snapshot.validated_at = now
            return snapshot
        enabled, stops, locked, releases = _load(org_id)
        fresh = _Snapshot(version, enabled, now, now, stops, locked, releases)
        _snapshots[org_id] = fresh
        return fresh


def _stamp(org_id: int) -> str:
    # Read the stamp before the rows: a change commits its rows before it
    # writes a new stamp, so rows read after a stamp are at least that new.
    version = cache.get(_VERSION_KEY.format(org_id))
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(_VERSION_KEY.format(org_id), version, timeout=None):
            version = cache.get(_VERSION_KEY.format(org_id)) or version
    return str(version)


def _load(
    org_id: int,
) -> tuple[frozenset[str], tuple[BudgetStop, ...], frozenset[str], dict[str, tuple[str, str, str]]]:
    """The organization's enabled capabilities, reached stop budgets, locked
    capabilities and release choices, in one query (a snapshot's whole cost)."""
    from django.db import connection
    from django.utils import timezone

    from capabilities.registry import registry
    from metering.budgets import period_start

    installed = registry()
    enabled: set[str] = set()
    locked: set[str] = set()
    stops = []
    releases: dict[str, tuple[str, str, str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_SNAPSHOT_SQL, [org_id, org_id, org_id, org_id, period_start(timezone.now())])
        for row_kind, capability, budget_id, amount, spent, currency, platform in cursor.fetchall():
            if row_kind == "release":
                # The row's text column: "channel:pinned:reason" (neither of the first two has a colon).
                channel, pinned, reason = currency.split(":", 2)
                releases[capability] = (channel, pinned, reason)
            elif row_kind in ("on", "lock"):
                # A toggle of an app that was uninstalled is not a capability any more.
                if capability in installed:
                    (enabled if row_kind == "on" else locked).add(capability)
            else:
                stops.append(
                    BudgetStop(budget_id, capability, Decimal(amount), Decimal(spent), currency, platform)
                )
    return frozenset(enabled), tuple(stops), frozenset(locked), releases


# The rule as SQL: the organization's toggle row for the capability says enabled.
_ENABLED_SQL = (
    "EXISTS (SELECT 1 FROM capabilities_featuretoggle toggle WHERE toggle.organization_id = {organization}"
    " AND toggle.capability_key = {capability} AND toggle.enabled)"
)


# The budget rule as SQL. A budget's spend with what is in flight: its counter
# plus its running jobs (the organization's, of what it covers) times its mean
# job cost this period. It is reached when that is at least its amount, for a
# `stop` budget charged this period ({period}: the period's first day).
# metering.budgets keeps the counters.
_IN_FLIGHT_SQL = (
    "budget.spent + CASE WHEN budget.jobs_charged > 0 THEN budget.job_spent / budget.jobs_charged ELSE 0 END"
    " * (SELECT count(*) FROM capabilities_job running"
    " WHERE running.organization_id = budget.organization_id AND running.status = 'running'"
    " AND (budget.capability IS NULL OR running.capability = budget.capability))"
)
_REACHED_SQL = (
    "budget.action = 'stop' AND budget.period_start = {period} AND " + _IN_FLIGHT_SQL + " >= budget.amount"
)
_BUDGET_SQL = (
    "NOT EXISTS (SELECT 1 FROM metering_budget budget WHERE budget.organization_id = {organization}"  # noqa: S608
    " AND (budget.capability IS NULL OR budget.capability = {capability}) AND " + _REACHED_SQL + ")"
)
_STOPS_SQL = (
    "SELECT budget.id, budget.capability, budget.amount, "  # noqa: S608  # constants only
    + _IN_FLIGHT_SQL
    + " AS spent, budget.currency, budget.platform FROM metering_budget budget"
    " WHERE budget.organization_id = %s AND "
    + _REACHED_SQL.format(period="%s")
    + " ORDER BY budget.capability NULLS FIRST, budget.platform DESC"
)


def budget_refusal(stop: BudgetStop, title: str) -> str:
    """Why a job or call of capability `title` is refused, and who can lift it."""
    from metering.budgets import money, scope_name

    scope = scope_name(stop.capability)
    spent = money(stop.spent, stop.currency)
    limit = money(stop.amount, stop.currency)
    if stop.platform:
        return (
            f"{title} is stopped: the platform cap of {limit} a month for {scope} is reached ({spent} spent "
            "or running). Your Switchboard provider's finance team can raise it."
        )
    return (
        f"{title} is stopped: the monthly budget of {limit} for {scope} is reached ({spent} spent "
        "or running). An owner, admin or billing member can raise it on the Usage page."
    )


# The snapshot's one query: the enabled toggles, the locked ones, then the
# reached stop budgets.
_SNAPSHOT_SQL = (
    "SELECT 'on', toggle.capability_key, NULL::bigint, NULL::numeric, NULL::numeric,"  # noqa: S608
    " NULL::varchar, NULL::boolean"
    " FROM capabilities_featuretoggle toggle WHERE toggle.organization_id = %s AND toggle.enabled"
    " UNION ALL SELECT 'lock', toggle.capability_key, NULL, NULL, NULL, NULL, NULL"
    " FROM capabilities_featuretoggle toggle WHERE toggle.organization_id = %s AND toggle.locked"
    " UNION ALL SELECT 'release', choice.capability_key, NULL, NULL, NULL,"
    " choice.channel || ':' || choice.pinned_version || ':' || choice.pinned_reason, NULL"
    " FROM capabilities_releasechoice choice WHERE choice.organization_id = %s"
    " AND (choice.channel <> 'stable' OR choice.pinned_version <> '')"
    " UNION ALL SELECT 'stop', stops.capability, stops.id, stops.amount, stops.spent, stops.currency,"
    " stops.platform FROM (" + _STOPS_SQL + ") AS stops"
)


def budgets_in_flight(org_id: int) -> dict[int, Decimal]:
    """What the running jobs of each of the organization's budgets are
    expected to cost (their number times the budget's mean job cost this
    period), by budget id: metering.budgets shows it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_IN_FLIGHT_BY_BUDGET_SQL, [org_id])
        return {budget_id: Decimal(amount) for budget_id, amount in cursor.fetchall()}


_IN_FLIGHT_BY_BUDGET_SQL = (
    "SELECT budget.id, " + _IN_FLIGHT_SQL + " - budget.spent"  # noqa: S608  # constants only
    " FROM metering_budget budget WHERE budget.organization_id = %s"
)


def budget_condition(organization: str, capability: str, period: str) -> str:
    """The budget rule as a SQL condition (true: no reached stop budget covers
    it) on the columns or placeholders given, for the runner's claim."""
    return _BUDGET_SQL.format(organization=organization, capability=capability, period=period)


def reached_budgets(org_id: int) -> tuple[BudgetStop, ...]:
    """The organization's reached stop budgets, read now (one query)."""
    from django.db import connection
    from django.utils import timezone

    from metering.budgets import period_start

    with connection.cursor() as cursor:
        cursor.execute(_STOPS_SQL, [org_id, period_start(timezone.now())])
        return tuple(
            BudgetStop(budget_id, capability, Decimal(amount), Decimal(spent), currency, platform)
            for budget_id, capability, amount, spent, currency, platform in cursor.fetchall()
        )


def enabled_condition(organization: str, capability: str) -> str:
    """The rule as a SQL condition on the columns (or placeholders) given, for
    statements that decide many rows at once (the runner's claim)."""
    return _ENABLED_SQL.format(organization=organization, capability=capability)


def enabled_in_database(organization: Organization | int) -> frozenset[str]:
    """The capabilities switched on for `organization`, read from the toggle
    rows now (the record: for billing, which must not act on a snapshot)."""
    from capabilities.models import FeatureToggle
    from capabilities.registry import registry

    org_id = organization if isinstance(organization, int) else organization.pk
    installed = registry()
    keys = FeatureToggle.objects.filter(organization_id=org_id, enabled=True).values_list(
        "capability_key", flat=True
    )
    # A toggle of an app that was uninstalled is not a capability any more.
    return frozenset(key for key in keys if key in installed)


def organizations_with_any_on() -> set[int]:
    """The organizations with at least one capability switched on (record)."""
    from capabilities.models import FeatureToggle

    return set(
        FeatureToggle.objects.filter(enabled=True).values_list("organization_id", flat=True).distinct()
    )


def bump_version(org_id: int) -> None:
    """Announce a committed change of `org_id`'s toggles to every process. If
    the cache can't take the new stamp, the change is still committed: this
    process forgets its snapshot now, and every other process reloads within
    MAX_AGE, whatever stamp it sees."""
    _snapshots.pop(org_id, None)
    try:
        cache.set(_VERSION_KEY.format(org_id), uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning(
            "Could not announce a toggle change of organization %s; seen within %ss",
            org_id,
            MAX_AGE,
            exc_info=True,
        )


def forget_snapshots() -> None:
    """Drop this process's snapshots (tests, benchmarks)."""
    _snapshots.clear()
