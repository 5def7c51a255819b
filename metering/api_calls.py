"""Counting API calls made with organization API keys, per organization and
capability, without slowing the requests.

A call is counted after its response has been sent (a closer on the response)
with one Redis HINCRBY into a pending hash keyed by org, capability and hour.
A periodic task renames the pending hash to a flush hash (atomic: new calls go
to a fresh pending hash), writes its counts to the ledger with idempotency
keys derived from the flush hash's name, and deletes it. A crash between the
ledger commit and the delete only leaves a hash whose events are already in
the ledger: the next flush writes them again and the keys make that a no-op.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from functools import cache

from django.conf import settings
from django.utils import timezone

from metering import ledger
from metering.models import EventKind
from portal.models import Organization

logger = logging.getLogger(__name__)

METER = "api_calls"
PENDING = "metering:api_calls:pending"
FLUSHING = "metering:api_calls:flushing:"
DEAD = "metering:api_calls:failed:"


@cache
def _redis():  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def count_call(organization_id: int, capability: str) -> None:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    _redis().hincrby(PENDING, f"{organization_id}|{capability}|{int(hour.timestamp())}", 1)


def flush() -> int:
    """Move counted calls into the ledger; returns how many calls were recorded."""
    client = _redis()
    recorded = 0
    # Leftovers of a flush that stopped half-way go first.
    for key in sorted(client.scan_iter(f"{FLUSHING}*")):
        recorded += _flush_safely(key.decode())
    target = f"{FLUSHING}{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    try:
        client.rename(PENDING, target)
    except Exception as error:  # redis.ResponseError: no such key, nothing counted
        if "no such key" in str(error).lower():
            return recorded
        raise
    return recorded + _flush_safely(target)


def _flush_safely(key: str) -> int:
    """Flush one hash; one that cannot be written is set aside (kept, logged,
    shown on the health page) so it never blocks the flushes after it."""
    try:
        return _flush_hash(key)
    except Exception:
        logger.exception("API-call flush %s failed; moved aside for inspection", key)
        _redis().rename(key, DEAD + key.removeprefix(FLUSHING))
        return 0


def set_aside() -> list[str]:
    """Flush hashes that failed and wait for an operator."""
    return sorted(key.decode() for key in _redis().scan_iter(f"{DEAD}*"))


def _flush_hash(key: str) -> int:
    client = _redis()
    counts = client.hgetall(key)
    flush_id = key.removeprefix(FLUSHING)
    parsed = []
    for field, value in counts.items():
        org_id, capability, hour = field.decode().split("|")
        parsed.append((int(org_id), capability, int(hour), int(value)))
    # Calls counted for an organization that no longer exists cannot be billed.
    known = set(Organization.objects.filter(pk__in={row[0] for row in parsed}).values_list("pk", flat=True))
    for org_id, capability, _hour, value in parsed:
        if org_id not in known:
            logger.warning("Dropping %s API calls of unknown organization %s (%s)", value, org_id, capability)
    records = [
        ledger.UsageRecord(
            organization_id=org_id,
            capability=capability,
            meter=METER,
            quantity=value,
            occurred_at=datetime.fromtimestamp(hour, tz=UTC),
            idempotency_key=f"api:{flush_id}:{org_id}:{capability}:{hour}",
            kind=EventKind.API_CALLS,
        )
        for org_id, capability, hour, value in parsed
        if org_id in known
    ]
    inserted = ledger.ingest(records) if records else 0
    client.delete(key)
    # A flush hash goes to the ledger in one transaction: all of it is new, or
    # none (a leftover whose ledger write committed before a crash).
    return sum(record.quantity for record in records) if inserted else 0
