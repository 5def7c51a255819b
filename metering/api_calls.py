"""Counting API calls made with organization API keys, per organization and
capability, durably and without slowing the requests.

The rule: **a counted call is in PostgreSQL within a second** (the
`API_CALLS_WRITE_INTERVAL`). Redis is not involved, so losing Redis's data
loses no call; a web process that is SIGKILLed loses at most the calls it
counted in its last second; one that stops normally writes them on its way
out. A call costs the request one increment of a dict under a lock, after the
response has gone out (see middleware.py).

0. `attribute` marks a request as a call of a capability by the organization
   whose API key made it (the capability API's permission and job views call
   it); the middleware reads it back with `metered_call` and, once a
   successful response has gone out, counts it.
1. `count_call` adds one to the process's in-memory counts.
2. A background thread of each web process writes them every second as one
   *batch*: an upsert of `ApiCallCount` rows, one per process, organization,
   capability and hour, adding the batch's counts to `calls`. Batches are
   numbered per process and written in order; the row keeps the number of the
   last batch applied to it, and the upsert applies a batch only to rows that
   have not seen it. A batch whose commit failed, or whose outcome is unknown
   (the connection died during COMMIT), is kept and retried first, under the
   same number: if it had committed, the retry changes nothing.
3. `flush` (beat, every minute) moves what the rows hold beyond `moved` into
   the ledger, in one transaction with setting `moved = calls`: every call
   reaches the ledger exactly once. Its idempotency key names the process,
   the row and the running total it reaches, so it is unique by construction.

Why not keep counting in Redis: a Redis without persistence, or one that
restarts before its next fsync, takes the counts with it (issue 12 measured
32 % of the calls of a fault run lost). Why not one ledger row per call: it
would put a durable commit on every request.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from metering import ledger
from metering.models import ApiCallCount, EventKind
from portal.api.authentication import ApiKeyClient
from portal.models import Organization

logger = logging.getLogger(__name__)

METER = "api_calls"
MOVE_CHUNK = 1000  # rows per ledger transaction
# Rows whose calls are all in the ledger are deleted this long after their hour:
# far beyond the time a process keeps retrying a batch it could not confirm.
KEEP_MOVED = timedelta(hours=25)
LAST_MOVE = "metering:api_calls:last_move"  # cache key: when flush last ran, for the health page

Key = tuple[int, str, int]  # organization id, capability, hour (Unix seconds)


@dataclass(frozen=True)
class MeteredCall:
    """An API call to count: the organization whose API key made it and the
    capability it used."""

    organization_id: int
    capability: str


def attribute(request: Request, capability: str) -> None:
    """Mark `request` as one call of `capability` by the organization whose API
    key made it; the middleware counts it once its response has gone out, if
    that response is a success. Calls from a signed-in browser session are not
    metered, so for them this does nothing. A later call replaces the
    capability (a job's own capability is known only once it is read)."""
    client = request.user
    if isinstance(client, ApiKeyClient):
        call = MeteredCall(client.api_key.organization_id, capability)
        request._request.metered_call = call  # type: ignore[attr-defined]


def metered_call(request: HttpRequest) -> MeteredCall | None:
    """The call `attribute` marked `request` as, if any."""
    return getattr(request, "metered_call", None)


@dataclass
class Batch:
    number: int
    counts: dict[Key, int]


@dataclass
class _Counts:
    """One process's counts that are not yet in PostgreSQL."""

    pid: int
    process: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    counting: Counter[Key] = field(default_factory=Counter)
    unconfirmed: list[Batch] = field(default_factory=list)  # in order, oldest first
    last_batch: int = 0
    writer: threading.Thread | None = None
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> list[Batch]:
        """The batches to write now: those not confirmed yet, then a new one of
        everything counted since the last write."""
        with self.lock:
            if self.counting:
                self.last_batch += 1
                self.unconfirmed.append(Batch(self.last_batch, dict(self.counting)))
                self.counting = Counter()
            return list(self.unconfirmed)

    def confirm(self, batches: list[Batch]) -> None:
        with self.lock:
            written = {batch.number for batch in batches}
            self.unconfirmed = [batch for batch in self.unconfirmed if batch.number not in written]


_counts: _Counts | None = None
_counts_lock = threading.Lock()


def _process_counts() -> _Counts:
    """This process's counts; a forked child starts with none of its parent's."""
    global _counts
    pid = os.getpid()
    if _counts is None or _counts.pid != pid:
        with _counts_lock:
            if _counts is None or _counts.pid != pid:
                name = f"{socket.gethostname()[:24]}:{pid}:{uuid.uuid4().hex[:12]}"
                _counts = _Counts(pid=pid, process=name)
    return _counts


def forget_counts() -> None:
    """Drop this process's counts not yet written (for tests)."""
    global _counts
    _counts = None


def count_call(organization_id: int, capability: str) -> None:
    hour = int(timezone.now().replace(minute=0, second=0, microsecond=0).timestamp())
    counts = _process_counts()
    with counts.lock:
        counts.counting[(organization_id, capability, hour)] += 1
    if counts.writer is None and settings.API_CALLS_WRITE_INTERVAL > 0:
        _start_writer(counts)


def _start_writer(counts: _Counts) -> None:
    with _counts_lock:
        if counts.writer is not None:
            return
        counts.writer = threading.Thread(
            target=_write_every,
            args=(counts, settings.API_CALLS_WRITE_INTERVAL),
            name="api-call-writer",
            daemon=True,
        )
        counts.writer.start()
    atexit.register(_write_on_exit, counts)


def _write_every(counts: _Counts, interval: float) -> None:
    stop = threading.Event()
    failing = False
    while not stop.wait(interval):
        try:
            _write(counts)
        except Exception:
            if not failing:  # once per outage, not once per second
                logger.exception(
                    "API-call counts could not be written; kept in memory and retried every %ss", interval
                )
            failing = True
            connection.close()  # a broken connection is replaced at the next write
        else:
            if failing:
                logger.warning("API-call counts written again after an outage")
            failing = False


def _write_on_exit(counts: _Counts) -> None:
    if counts.pid != os.getpid():
        return
    try:
        _write(counts)
    except Exception:
        lost = sum(sum(batch.counts.values()) for batch in counts.unconfirmed)
        logger.exception("Stopping with %s API calls not written", lost)


def write_counts() -> int:
    """Write this process's counted calls to PostgreSQL now (what the writer
    thread does every second); returns how many calls were written."""
    return _write(_process_counts())


UPSERT = """
INSERT INTO metering_apicallcount
    (process, organization_id, capability, hour, calls, moved, batch, updated_at)
VALUES {rows}
ON CONFLICT (process, organization_id, capability, hour) DO UPDATE
SET calls = metering_apicallcount.calls + EXCLUDED.calls,
    batch = EXCLUDED.batch,
    updated_at = EXCLUDED.updated_at
WHERE metering_apicallcount.batch < EXCLUDED.batch
"""


def _write(counts: _Counts) -> int:
    with counts.write_lock:  # the thread and an exit hook never write the same batch at once
        batches = counts.take()
        if not batches:
            return 0
        now = datetime.now(UTC)
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            for batch in batches:  # in order: a row's batch number only grows
                params: list[Any] = []
                for (organization_id, capability, hour), calls in sorted(batch.counts.items()):
                    params += [
                        counts.process,
                        organization_id,
                        capability,
                        datetime.fromtimestamp(hour, tz=UTC),
                        calls,
                        0,
                        batch.number,
                        now,
                    ]
                rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(batch.counts))
                cursor.execute(UPSERT.format(rows=rows), params)
        counts.confirm(batches)
        return sum(sum(batch.counts.values()) for batch in batches)


def flush() -> int:
    """Move the written calls into the ledger; returns how many calls were
    recorded. Also writes this process's own counts first, and deletes rows
    long since moved."""
    write_counts()
    recorded = 0
    while True:
        moved, more = _move_chunk()
        recorded += moved
        if not more:
            break
    ApiCallCount.objects.filter(calls=F("moved"), hour__lt=timezone.now() - KEEP_MOVED).delete()
    try:
        cache.set(LAST_MOVE, timezone.now(), timeout=None)
    except Exception:  # the cache is Redis: the move is done, only the health page misses it
        logger.warning("Could not note the API-call move's time in the cache", exc_info=True)
    return recorded


def _move_chunk() -> tuple[int, bool]:
    with transaction.atomic(durable=True):
        rows = list(
            ApiCallCount.objects.select_for_update(skip_locked=True)
            .filter(calls__gt=F("moved"))
            .order_by("id")[:MOVE_CHUNK]
        )
        if not rows:
            return 0, False
        known = set(
            Organization.objects.filter(pk__in={row.organization_id for row in rows}).values_list(
                "pk", flat=True
            )
        )
        records = []
        for row in rows:
            if row.organization_id not in known:
                # Calls counted for an organization that no longer exists cannot be billed.
                logger.warning(
                    "Dropping %s API calls of unknown organization %s (%s)",
                    row.calls - row.moved,
                    row.organization_id,
                    row.capability,
                )
                continue
            records.append(
                ledger.UsageRecord(
                    organization_id=row.organization_id,
                    capability=row.capability,
                    meter=METER,
                    quantity=row.calls - row.moved,
                    occurred_at=row.hour,
                    idempotency_key=(
                        f"api:{row.process}:{row.organization_id}:{row.capability}:"
                        f"{int(row.hour.timestamp())}:{row.calls}"
                    ),
                    kind=EventKind.API_CALLS,
                )
            )
        inserted = ledger.append(records) if records else []
        ApiCallCount.objects.filter(pk__in=[row.pk for row in rows]).update(moved=F("calls"))
        return sum(record.quantity for record in inserted), len(rows) == MOVE_CHUNK
