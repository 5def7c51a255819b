"""Counting API calls made with organization API keys, per organization and
capability, without slowing the requests.

A call is counted after its response has been sent (a closer on the response)
with one Redis HINCRBY into a pending hash keyed by org, capability and hour.
A periodic task renames the pending hash to a flush hash (atomic: new calls go
to a fresh pending hash), writes its counts to the ledger with idempotency
keys derived from the flush hash's name, and deletes it. A crash between the
ledger commit and the delete only leaves a hash whose events are already in
the ledger: the next flush writes them again and the keys make that a no-op.

Without Redis (the quickstart) each call goes straight to the ledger.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from metering import ledger
from metering.models import EventKind

METER = "api_calls"
PENDING = "metering:api_calls:pending"
FLUSHING = "metering:api_calls:flushing:"


@cache
def _redis():  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def count_call(organization_id: int, capability: str) -> None:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    if settings.REDIS_URL:
        _redis().hincrby(PENDING, f"{organization_id}|{capability}|{int(hour.timestamp())}", 1)
        return
    with transaction.atomic():
        ledger.append(
            [
                ledger.UsageRecord(
                    organization_id=organization_id,
                    capability=capability,
                    meter=METER,
                    quantity=1,
                    occurred_at=timezone.now(),
                    idempotency_key=f"api:call:{uuid.uuid4()}",
                    kind=EventKind.API_CALLS,
                )
            ]
        )


def flush() -> int:
    """Move counted calls into the ledger; returns how many calls were recorded."""
    if not settings.REDIS_URL:
        return 0
    client = _redis()
    recorded = 0
    # Leftovers of a flush that stopped half-way go first.
    for key in sorted(client.scan_iter(f"{FLUSHING}*")):
        recorded += _flush_hash(key.decode())
    target = f"{FLUSHING}{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    try:
        client.rename(PENDING, target)
    except Exception as error:  # redis.ResponseError: no such key, nothing counted
        if "no such key" in str(error).lower():
            return recorded
        raise
    return recorded + _flush_hash(target)


def _flush_hash(key: str) -> int:
    client = _redis()
    counts = client.hgetall(key)
    flush_id = key.removeprefix(FLUSHING)
    records = []
    for field, value in counts.items():
        org_id, capability, hour = field.decode().split("|")
        records.append(
            ledger.UsageRecord(
                organization_id=int(org_id),
                capability=capability,
                meter=METER,
                quantity=int(value),
                occurred_at=datetime.fromtimestamp(int(hour), tz=UTC),
                idempotency_key=f"api:{flush_id}:{org_id}:{capability}:{hour}",
                kind=EventKind.API_CALLS,
            )
        )
    inserted = ledger.ingest(records) if records else 0
    client.delete(key)
    # A flush hash goes to the ledger in one transaction: all of it is new, or
    # none (a leftover whose ledger write committed before a crash).
    return sum(record.quantity for record in records) if inserted else 0
