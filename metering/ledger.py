"""Writing to the usage ledger. Two paths, one rule: an event whose idempotency
key is already in the ledger is ignored, and the hourly rollups grow by exactly
the events that were inserted, in the same transaction.

- `append(records)`: a handful of events inside the caller's transaction (the
  job runner commits a job's result, its usage and the rollups together).
- `append_if(guard, params, records)` (PostgreSQL): the same, tied to a guard
  statement (the job runner's "this job is still running; mark it done"), in
  one statement that commits on its own.
- `append_batch(records)` (PostgreSQL): a batch reported from outside
  (CloudEvents), in one statement with the rows as one JSON parameter; returns
  the keys that were new, so each event can be answered accepted or duplicate.
- `ingest(records)`: high-volume batches (API-call flushes, imports, synthetic
  data). A batch of keys never seen goes by COPY straight into the ledger and
  one statement increments the rollups by the rows it wrote; a batch with a
  recorded key goes through COPY into a staging table and one statement that
  inserts the new keys and increments the rollups by them.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from psycopg.errors import UniqueViolation

from metering.models import EventKind
from metering.moments import hour_of
from portal.db import prepared_cursor

EVENT_COLUMNS = (
    "organization_id",
    "capability",
    "meter",
    "quantity",
    "kind",
    "occurred_at",
    "recorded_at",
    "idempotency_key",
    "job_id",
    "reason",
    "created_by_id",
    "properties",
)
CHUNK = 500


@dataclass(frozen=True)
class UsageRecord:
    organization_id: int
    capability: str
    meter: str
    quantity: int
    occurred_at: datetime
    idempotency_key: str
    kind: str = EventKind.UNITS
    job_id: int | None = None
    reason: str = ""
    created_by_id: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool):
            raise TypeError("Usage quantities are whole numbers")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")

    @property
    def hour(self) -> datetime:
        """Start of the UTC hour: truncating in the event's own zone would give
        the half-hour of a UTC+05:30 timestamp."""
        return hour_of(self.occurred_at)


def event_row(record: UsageRecord, recorded_at: datetime) -> tuple[Any, ...]:
    """The ledger row of `record`, in the order of EVENT_COLUMNS."""
    return (
        record.organization_id,
        record.capability,
        record.meter,
        record.quantity,
        str(record.kind),
        record.occurred_at,
        recorded_at,
        record.idempotency_key,
        record.job_id,
        record.reason,
        record.created_by_id,
        json.dumps(record.properties) if record.properties else "{}",
    )


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Ledger writes must run inside the caller's transaction")


def append(records: Sequence[UsageRecord]) -> list[UsageRecord]:
    """Insert `records` (skipping known idempotency keys; of a key repeated in
    `records`, the first) and increment the rollups by what was inserted.
    Returns the records that were new, in the order given."""
    _require_transaction()
    first: dict[str, UsageRecord] = {}
    for record in records:
        first.setdefault(record.idempotency_key, record)
    # Keys in one fixed order (ingest's too): two transactions writing the same
    # keys wait for each other instead of deadlocking.
    ordered = sorted(first.values(), key=lambda record: record.idempotency_key)
    new_keys: set[str] = set()
    for start in range(0, len(ordered), CHUNK):
        new_keys |= _insert_chunk(ordered[start : start + CHUNK])
    inserted = [record for record in first.values() if record.idempotency_key in new_keys]
    _increment_rollups(inserted)
    return inserted


def _insert_chunk(records: Sequence[UsageRecord]) -> set[str]:
    """Insert rows with distinct keys; returns the keys that were new."""
    if not records:
        return set()
    row = "(" + ", ".join(["%s"] * (len(EVENT_COLUMNS) - 1) + ["%s::jsonb"]) + ")"
    now = _now()
    params: list[Any] = []
    for record in records:
        params.extend(event_row(record, now))
    sql = (
        f"INSERT INTO metering_usageevent ({', '.join(EVENT_COLUMNS)}) VALUES "
        + ", ".join([row] * len(records))
        + " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {key for (key,) in cursor.fetchall()}


RollupKey = tuple[int, str, str, Any]  # organization id, capability, meter, bucket

# Rollup grains, finest first: table, time column, the record's bucket, and the
# order every writer locks the grain's rows in (ROLLUP_CTES too): the hourly
# rows in their primary key's order (organization, hour, capability, meter),
# so a batch's new rows go into the key's index in order; the daily and monthly
# rows in their unique key's.
ROLLUPS: tuple[tuple[str, str, Callable[[UsageRecord], Any], Callable[[RollupKey], tuple[Any, ...]]], ...] = (
    (
        "metering_usagerollup",
        "hour",
        lambda record: record.hour,
        lambda key: (key[0], key[3], key[1], key[2]),
    ),
    ("metering_usagedailyrollup", "day", lambda record: record.hour.date(), lambda key: key),
    (
        "metering_usagemonthlyrollup",
        "month",
        lambda record: record.hour.date().replace(day=1),
        lambda key: key,
    ),
)


def _increment_rollups(records: Iterable[UsageRecord]) -> None:
    """Add the records to the hourly, daily and monthly rollups."""
    records = list(records)
    if not records:
        return
    statements: list[tuple[str, list[Any]]] = []
    for table, column, bucket_of, lock_order in ROLLUPS:
        totals: dict[RollupKey, list[int]] = defaultdict(lambda: [0, 0])
        for record in records:
            total = totals[(record.organization_id, record.capability, record.meter, bucket_of(record))]
            total[0] += record.quantity
            total[1] += 1
        # A fixed order: concurrent transactions lock rollup rows in the same
        # order (Python compares strings in byte order, as COLLATE "C" does).
        rows = sorted(totals.items(), key=lambda item: lock_order(item[0]))
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for (org_id, capability, meter, bucket), (quantity, events) in chunk:
                params.extend([org_id, capability, meter, bucket, quantity, events])
            statements.append(
                (
                    f"INSERT INTO {table} (organization_id, capability, meter, {column}, quantity, events)"
                    " VALUES "
                    + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
                    + f" ON CONFLICT (organization_id, capability, meter, {column}) DO UPDATE SET"
                    f" quantity = {table}.quantity + excluded.quantity,"
                    f" events = {table}.events + excluded.events",
                    params,
                )
            )
    # psycopg's pipeline mode sends the upserts together and PostgreSQL runs
    # them in this order (so the lock order holds): one round trip, not three.
    with connection.cursor() as cursor, cursor.connection.pipeline():
        for sql, params in statements:
            cursor.execute(sql, params)


# The PostgreSQL type of each event column, in the order of EVENT_COLUMNS: a
# VALUES list takes its types from its literals (a NULL job_id would be text).
EVENT_TYPES = (
    "bigint",
    "varchar",
    "varchar",
    "bigint",
    "varchar",
    "timestamptz",
    "timestamptz",
    "varchar",
    "bigint",
    "varchar",
    "bigint",
    "jsonb",
)


# The rollup increments of the rows a preceding `inserted` CTE returned
# (organization_id, capability, meter, hour, quantity), summed per hour once:
# hourly, then daily, then
# monthly, each in its lock order (ROLLUPS). The sub-statements of one statement run in an
# order of PostgreSQL's choosing, so each grain waits for the one before
# through a scalar subquery of it: concurrent writers of the same rows lock them
# in the same order and wait for each other instead of deadlocking.
ROLLUP_CTES = """totals AS (
            SELECT organization_id, capability COLLATE "C" AS capability, meter COLLATE "C" AS meter, hour,
                   sum(quantity) AS quantity, count(*) AS events
            FROM inserted GROUP BY 1, 4, 2, 3
        ), hourly AS (
            INSERT INTO metering_usagerollup (organization_id, capability, meter, hour, quantity, events)
            SELECT organization_id, capability, meter, hour, quantity, events FROM totals
            ORDER BY organization_id, hour, capability COLLATE "C", meter COLLATE "C"
            ON CONFLICT (organization_id, capability, meter, hour) DO UPDATE SET
                quantity = metering_usagerollup.quantity + excluded.quantity,
                events = metering_usagerollup.events + excluded.events
            RETURNING 1
        ), daily AS (
            INSERT INTO metering_usagedailyrollup (organization_id, capability, meter, day, quantity, events)
            SELECT organization_id, capability, meter, (hour AT TIME ZONE 'UTC')::date AS day,
                   sum(quantity), sum(events)
            FROM totals WHERE (SELECT count(*) FROM hourly) > 0
            GROUP BY organization_id, capability, meter, day
            ORDER BY organization_id, capability COLLATE "C", meter COLLATE "C", day
            ON CONFLICT (organization_id, capability, meter, day) DO UPDATE SET
                quantity = metering_usagedailyrollup.quantity + excluded.quantity,
                events = metering_usagedailyrollup.events + excluded.events
            RETURNING 1
        ), monthly AS (
            INSERT INTO metering_usagemonthlyrollup
                (organization_id, capability, meter, month, quantity, events)
            SELECT organization_id, capability, meter,
                   date_trunc('month', hour AT TIME ZONE 'UTC')::date AS month, sum(quantity), sum(events)
            FROM totals WHERE (SELECT count(*) FROM daily) > 0
            GROUP BY organization_id, capability, meter, month
            ORDER BY organization_id, capability COLLATE "C", meter COLLATE "C", month
            ON CONFLICT (organization_id, capability, meter, month) DO UPDATE SET
                quantity = metering_usagemonthlyrollup.quantity + excluded.quantity,
                events = metering_usagemonthlyrollup.events + excluded.events
            RETURNING 1
        )"""


def append_if(guard: str, guard_params: Sequence[Any], records: Sequence[UsageRecord]) -> int | None:
    """`append_if_charging` without a budget charge: how many events were new,
    or None when the guard returned no row."""
    new, _charged = append_if_charging(guard, guard_params, records)
    return new


def append_if_charging(
    guard: str,
    guard_params: Sequence[Any],
    records: Sequence[UsageRecord],
    charge: tuple[str, Sequence[Any]] | None = None,
) -> tuple[int | None, list[tuple[Any, ...]]]:
    """PostgreSQL: run `guard`, a data-modifying statement with RETURNING, and
    only if it returned a row insert `records` (skipping known idempotency
    keys; of a key repeated in `records`, the first) and increment the rollups
    by the events that were inserted. Returns how many events were new, or
    None when the guard returned no row (and nothing was written), with the
    rows of `charge`'s `charged` CTE (metering.budgets.charge_ctes: the cost of
    the inserted events added to the budgets that cover them).

    All of it is one statement, so it is one transaction even outside the
    caller's (the job runner's result, usage and rollups commit together, with
    the connection's synchronous commit) and one round trip, where BEGIN, the
    guard, the events, the rollups and COMMIT took five."""
    if not records:
        raise ValueError("append_if needs at least one record")
    first: dict[str, UsageRecord] = {}
    for record in records:
        first.setdefault(record.idempotency_key, record)
    now = _now()
    row = "(" + ", ".join(f"%s::{type_}" for type_ in EVENT_TYPES) + ")"
    params: list[Any] = list(guard_params)
    for record in first.values():
        params.extend(event_row(record, now))
    columns = ", ".join(EVENT_COLUMNS)
    # Events in key order, then the rollups (ROLLUP_CTES), as `append` and
    # `ingest` write them.
    sql = f"""
        WITH guard AS ({guard}),
        inserted AS (
            INSERT INTO metering_usageevent ({columns})
            SELECT {columns} FROM (VALUES {", ".join([row] * len(first))}) AS event ({columns})
            WHERE EXISTS (SELECT FROM guard)
            ORDER BY idempotency_key COLLATE "C"
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING organization_id, capability, meter,
                      date_trunc('hour', occurred_at, 'UTC') AS hour, quantity
        ), {ROLLUP_CTES}{charge[0] if charge else ""}
        SELECT EXISTS (SELECT FROM guard), (SELECT count(*) FROM inserted), (SELECT count(*) FROM monthly)
               {", charged.*  FROM (SELECT) AS one LEFT JOIN charged ON true" if charge else ""}
    """
    if charge:
        params.extend(charge[1])
    # Prepared: every job's result runs this statement (one text per guard,
    # number of events and charge), and PostgreSQL took longer to plan its
    # CTEs than to run them.
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    guarded, new = rows[0][0], rows[0][1]
    charged = [tuple(row[3:]) for row in rows if charge and row[3] is not None]
    return (int(new) if guarded else None), charged


def append_batch(records: Sequence[UsageRecord]) -> set[str]:
    """`append` for a batch reported from outside (CloudEvents): the same rule
    (known keys skipped; of a key repeated in `records`, the first; rollups
    grown by what was inserted) in ONE statement whose rows travel as one JSON
    parameter (`json_to_recordset`), so a thousand events cost one round trip
    and neither a statement with twelve thousand placeholders to parse nor
    twelve thousand values to quote. Returns the keys that were new. One
    statement is one transaction even outside the caller's."""
    first: dict[str, UsageRecord] = {}
    for record in records:
        first.setdefault(record.idempotency_key, record)
    if not first:
        return set()
    now = _now().isoformat()
    rows = [
        {
            "organization_id": record.organization_id,
            "capability": record.capability,
            "meter": record.meter,
            "quantity": record.quantity,
            "kind": str(record.kind),
            "occurred_at": record.occurred_at.isoformat(),
            "recorded_at": now,
            "idempotency_key": record.idempotency_key,
            "job_id": record.job_id,
            "reason": record.reason,
            "created_by_id": record.created_by_id,
            "properties": record.properties,
        }
        for record in first.values()
    ]
    names = ", ".join(EVENT_COLUMNS)
    typed = ", ".join(f"{name} {type_}" for name, type_ in zip(EVENT_COLUMNS, EVENT_TYPES, strict=True))
    # Events in key order, then the rollups (ROLLUP_CTES), as `append` and
    # `ingest` write them: concurrent writers wait for each other, never deadlock.
    sql = f"""
        WITH inserted AS (
            INSERT INTO metering_usageevent ({names})
            SELECT {names} FROM json_to_recordset(%s::json) AS event ({typed})
            ORDER BY idempotency_key COLLATE "C"
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING organization_id, capability, meter,
                      date_trunc('hour', occurred_at, 'UTC') AS hour, quantity, idempotency_key
        ), {ROLLUP_CTES}
        SELECT idempotency_key, (SELECT count(*) FROM monthly) FROM inserted
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows)])
        return {key for key, _ in cursor.fetchall()}


def ingest(records: Iterable[UsageRecord]) -> int:
    """Record a large batch in its own transaction; returns how many were new.
    Of a key repeated in the batch, the first is the one recorded.

    A batch of keys the ledger has never seen (imports, synthetic data, a
    first flush) is copied straight into the ledger with COPY, in key order,
    and the rollups grow by all of it. If any key is already there, or being
    written by a concurrent transaction that then commits, COPY fails on the
    unique key, its savepoint undoes it, and the batch goes through a staging
    table instead: inserted with ON CONFLICT DO NOTHING, the rollups grown by
    what was inserted. Either way each key is counted once."""
    first: dict[str, UsageRecord] = {}
    for record in records:
        first.setdefault(record.idempotency_key, record)
    if not first:
        return 0
    # Keys in byte order (Python compares strings by code point, which is
    # UTF-8's byte order and COLLATE "C"), as `append` and the staging path
    # insert them: concurrent writers of the same keys wait, never deadlock.
    ordered = [first[key] for key in sorted(first)]
    now = _now()
    with transaction.atomic(), connection.cursor() as cursor:
        # A batch's sorts and aggregates (by key, by rollup row) fit in memory
        # rather than spilling to disk at PostgreSQL's default 4 MB.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        try:
            with transaction.atomic():
                _copy_events(cursor, "metering_usageevent", ordered, now)
        except UniqueViolation:  # COPY's error is psycopg's own, not wrapped by Django
            return _ingest_through_staging(cursor, ordered, now)
        # The rollups grow by the rows this COPY wrote: those recorded at
        # `now` by its (sub)transaction, the xmin of each row it wrote.
        count = _grow_rollups(
            cursor,
            """SELECT organization_id, capability, meter,
                      date_trunc('hour', occurred_at, 'UTC') AS hour, quantity
               FROM metering_usageevent
               WHERE recorded_at = %s
                 AND xmin = (SELECT xmin FROM metering_usageevent WHERE idempotency_key = %s)""",
            [now, ordered[0].idempotency_key],
        )
        if count != len(ordered):  # cannot happen; if it did, nothing of the batch would be kept
            raise RuntimeError(f"ingest: the rollups grew by {count} events where {len(ordered)} were copied")
    return len(ordered)


def _ingest_through_staging(cursor: Any, ordered: Sequence[UsageRecord], now: datetime) -> int:
    """`ingest` of a batch some of whose keys are recorded: COPY into a
    temporary table, then one statement inserts the new keys and grows the
    rollups by them."""
    staging = f"usage_staging_{uuid.uuid4().hex[:12]}"
    columns = ", ".join(EVENT_COLUMNS)
    # The event columns only: no id (an identity column, which LIKE would
    # copy as a bare NOT NULL), no indexes, no constraints, no WAL (temporary).
    cursor.execute(
        f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS"
        f" SELECT {columns} FROM metering_usageevent WITH NO DATA"
    )
    _copy_events(cursor, staging, ordered, now)
    # Keys and rollups in the same fixed order as `append` (byte order, as
    # Python sorts; rollups chained by ROLLUP_CTES): concurrent writers wait
    # for each other, never deadlock.
    return _grow_rollups(
        cursor,
        f"""INSERT INTO metering_usageevent ({columns})
            SELECT {columns} FROM {staging} ORDER BY idempotency_key COLLATE "C"
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING organization_id, capability, meter,
                      date_trunc('hour', occurred_at, 'UTC') AS hour, quantity""",
    )


def _copy_events(cursor: Any, table: str, ordered: Sequence[UsageRecord], now: datetime) -> None:
    """COPY the ledger rows of `ordered`, recorded at `now`, into `table`."""
    with cursor.copy(f"COPY {table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
        for record in ordered:
            copy.write_row(event_row(record, now))


def _grow_rollups(cursor: Any, inserted: str, params: Sequence[Any] | None = None) -> int:
    """Grow the rollups by the rows of `inserted` (a query or a data-modifying
    statement returning organization_id, capability, meter, hour, quantity),
    in one statement; returns how many events they summed."""
    cursor.execute(
        f"WITH inserted AS ({inserted}), {ROLLUP_CTES}"
        " SELECT (SELECT coalesce(sum(events), 0) FROM totals), (SELECT count(*) FROM monthly)",
        params,
    )
    count, _ = cursor.fetchone()
    return int(count)


def _now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def recorded_keys(keys: Sequence[str]) -> set[str]:
    """Which of `keys` the ledger holds (keys are unique in it forever)."""
    from metering.models import UsageEvent

    return set(
        UsageEvent.objects.filter(idempotency_key__in=list(keys)).values_list("idempotency_key", flat=True)
    )
