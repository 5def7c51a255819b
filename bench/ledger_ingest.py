"""Usage events recorded per second through the ledger's batch path
(`ledger.ingest`: deduplication by idempotency key and the hourly, daily and
monthly rollups in the same transaction) against raw PostgreSQL `COPY` of the
same rows into the same table, side by side in one run, in alternating order.

Both paths start from empty tables: the ledger refuses DELETE, so each
measurement starts with a TRUNCATE of the ledger and its three rollup tables.
Not of the benchmark database's own tables, where the finance dashboard
benchmark keeps its 10.8 million events between runs, but of exact copies
(columns, defaults, identity, indexes, constraints, foreign keys, triggers,
storage parameters) in a schema of this benchmark's own, first on the search
path, so `ledger.ingest` and COPY both write to them unchanged. Target: six
tenths of COPY's rate (issue 20; a third before it).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

ROWS = 200_000
WARM_UP_ROWS = 20_000  # one unmeasured round of both paths first
RUNS = 5
BATCH = 50_000  # ledger.ingest call size, as `generate_usage` writes
ORGANIZATIONS = 10
HOURS = 30 * 24
SCHEMA = "ledger_bench"
TABLES = (
    "metering_usageevent",
    "metering_usagerollup",
    "metering_usagedailyrollup",
    "metering_usagemonthlyrollup",
)


def run() -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.harness import write_result
    from metering import ledger, meter_prices
    from portal.models import Organization

    meters = [(info.capability, info.meter) for info in meter_prices.meters()]
    if not meters:
        raise SystemExit("ledger_ingest needs installed capabilities (bench.settings has the test ones)")
    organization_ids = [
        Organization.objects.get_or_create(
            slug=f"bench-ledger-{n:02d}", defaults={"name": f"Ledger Bench {n}"}
        )[0].pk
        for n in range(1, ORGANIZATIONS + 1)
    ]
    columns = ", ".join(ledger.EVENT_COLUMNS)
    first_hour = datetime(2026, 1, 1, tzinfo=UTC)

    def records(prefix: str, count: int = ROWS) -> list[ledger.UsageRecord]:
        rng = random.Random(prefix)
        result = []
        for n in range(count):
            capability, meter = rng.choice(meters)
            result.append(
                ledger.UsageRecord(
                    organization_id=rng.choice(organization_ids),
                    capability=capability,
                    meter=meter,
                    quantity=rng.randint(1, 50),
                    occurred_at=first_hour + timedelta(seconds=rng.randrange(HOURS * 3600)),
                    idempotency_key=f"{prefix}:{n}",
                )
            )
        return result

    def truncate() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)}")

    def ours(batch: list[ledger.UsageRecord]) -> None:
        recorded = 0
        for start in range(0, len(batch), BATCH):
            recorded += ledger.ingest(batch[start : start + BATCH])
        assert recorded == len(batch)

    def baseline(batch: list[ledger.UsageRecord]) -> Callable[[], None]:
        now = timezone.now()
        rows = [ledger.event_row(record, now) for record in batch]

        def copy() -> None:
            sql = f"COPY metering_usageevent ({columns}) FROM STDIN"
            with transaction.atomic(), connection.cursor() as cursor, cursor.copy(sql) as stream:
                for row in rows:
                    stream.write_row(row)

        return copy

    def rate(call: Callable[[], None]) -> float:
        truncate()
        start = time.perf_counter_ns()
        call()
        elapsed = (time.perf_counter_ns() - start) / 1e9
        return ROWS / elapsed

    rates: dict[str, list[float]] = {"ours": [], "baseline": []}
    rollup_rows = 0
    with _ledger_copies(connection):
        warm_up = records("bench:warm-up", WARM_UP_ROWS)
        truncate()
        ours(warm_up)
        truncate()
        baseline(warm_up)()
        for n in range(RUNS):
            batch = records(f"bench:{n}:ledger")
            copy = baseline(records(f"bench:{n}:copy"))
            measurements = [("ours", lambda batch=batch: ours(batch)), ("baseline", copy)]
            for name, call in measurements if n % 2 == 0 else reversed(measurements):
                rates[name].append(rate(call))
                if name == "ours":
                    rollup_rows = _rollup_rows(connection)

    ours_rate = statistics.median(rates["ours"])
    baseline_rate = statistics.median(rates["baseline"])
    ratio = ours_rate / baseline_rate
    return write_result(
        "ledger_ingest",
        metric="usage events recorded per second (median of runs)",
        unit="events/s",
        ours=ours_rate,
        baseline=baseline_rate,
        baseline_name="raw PostgreSQL COPY of the same rows into metering_usageevent",
        higher_is_better=True,
        target="≥ 0.6 of COPY",
        runs=RUNS,
        rows_per_run=ROWS,
        ingest_batch=BATCH,
        rollup_rows_per_run=rollup_rows,
        ours_runs=[round(value) for value in rates["ours"]],
        baseline_runs=[round(value) for value in rates["baseline"]],
        ratio_runs=[round(o / b, 2) for o, b in zip(rates["ours"], rates["baseline"], strict=True)],
        meets_target=ratio >= 0.6,
    )


@contextmanager
def _ledger_copies(connection: Any) -> Iterator[None]:
    """Exact copies of the ledger's tables in SCHEMA, first on this connection's
    search path while the benchmark runs; dropped afterwards."""
    database = connection.settings_dict["NAME"]
    if not database.endswith("_bench"):
        raise SystemExit(
            f"ledger_ingest creates and drops tables: run it on a *_bench database, not {database}"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        for table in TABLES:
            cursor.execute(f"CREATE TABLE {SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)")
            # LIKE copies no storage parameters (a fillfactor): the same ones.
            cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [f"public.{table}"])
            (options,) = cursor.fetchone()
            if options:
                cursor.execute(f"ALTER TABLE {SCHEMA}.{table} SET ({', '.join(options)})")
            # LIKE copies neither foreign keys nor triggers: the same ones, by definition.
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype = 'f'",
                [f"public.{table}"],
            )
            for (definition,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {SCHEMA}.{table} ADD {definition}")
            cursor.execute(
                "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
                " WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [f"public.{table}"],
            )
            for (definition,) in cursor.fetchall():
                cursor.execute(definition.replace(f" ON public.{table} ", f" ON {SCHEMA}.{table} "))
        cursor.execute(f"SET search_path TO {SCHEMA}, public")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET search_path")
            cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def _rollup_rows(connection: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_usagerollup")
        return int(cursor.fetchone()[0])
