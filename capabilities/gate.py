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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.cache import cache

if TYPE_CHECKING:
    from portal.models import Organization

STALENESS = 0.5  # seconds a snapshot is trusted without looking at its stamp
# Seconds a snapshot is kept, whatever its stamp says: a change whose stamp was
# lost (the cache was down when it committed) is seen within this bound.
MAX_AGE = 60.0
_VERSION_KEY = "capabilities:toggles:v:{}"


@dataclass(slots=True)
class _Snapshot:
    version: str
    enabled: frozenset[str]
    validated_at: float
    loaded_at: float


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


def enabled_keys(organization: Organization | int) -> frozenset[str]:
    """The set of capabilities switched on for `organization`."""
    org_id = organization if isinstance(organization, int) else organization.pk
    snapshot = _snapshots.get(org_id)
    if snapshot is None or _clock() - snapshot.validated_at > STALENESS:
        snapshot = _refresh(org_id, snapshot)
    return snapshot.enabled


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
            fresh = _Snapshot(version="", enabled=_load(org_id), validated_at=now, loaded_at=now)
            _snapshots[org_id] = fresh
            return fresh
        if snapshot is not None and snapshot.version == version and now - snapshot.loaded_at < MAX_AGE:
            snapshot.validated_at = now
            return snapshot
        fresh = _Snapshot(version=version, enabled=_load(org_id), validated_at=now, loaded_at=now)
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


def _load(org_id: int) -> frozenset[str]:
    return enabled_in_database(org_id)


# The rule as SQL: the organization's toggle row for the capability says enabled.
_ENABLED_SQL = (
    "EXISTS (SELECT 1 FROM capabilities_featuretoggle toggle WHERE toggle.organization_id = {organization}"
    " AND toggle.capability_key = {capability} AND toggle.enabled)"
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
