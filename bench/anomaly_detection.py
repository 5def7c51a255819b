"""Usage anomaly detection over 1,000 organizations x 10 meters x 90 days of
daily rollups: the detection statement (metering.anomalies.record_anomalies,
what the daily task runs) timed side by side with a plain GROUP BY over the
same rollups, in one run. Times: lower is better; `detection_over_group_by`
says how many plain GROUP BYs one detection costs.

Two shapes: the catch-up (every day with a full 28-day window scanned at
once, 62 days: what a first deployment or a long outage asks) against a
GROUP BY over all 900,000 rollups, and the daily run (yesterday alone)
against a GROUP BY over the 29 days it reads. Each measured run is rolled
back, so every run does the same work; a last, real `detect` records the
anomalies and their alerts and checks them against the planted spikes.

Data set, written by PostgreSQL (INSERT ... SELECT over generate_series),
kept between runs: each (organization, meter) has its own level (20 to 500
a day), weekdays at that level with +-20 % noise, weekends at 15 % of it; one
meter in ten is used on about a quarter of the days; one series in 97 has a
planted spike of 10x its level on one day between day 60 and day 84.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

ORGANIZATIONS = 1_000
DAYS = 90
SLUG_PREFIX = "anombench-"
RUNS = 5
CATCH_UP_RUNS = 3  # each scans 62 days: about a minute on a busy 2-core machine
METERS = (
    ("ocr", "pages"),
    ("ocr", "api_calls"),
    ("ocr", "compute_seconds"),
    ("summaries", "summaries"),
    ("summaries", "api_calls"),
    ("summaries", "compute_seconds"),
    ("glossary", "api_calls"),
    ("glossary", "compute_seconds"),
    ("translate", "characters"),
    ("translate", "documents"),  # the meter used now and then
)
SPARSE_METER = len(METERS) - 1
EXPECTED_ROLLUPS_MIN = ORGANIZATIONS * (len(METERS) - 1) * DAYS


def _organizations() -> list[int]:
    from portal.models import Organization

    Organization.objects.bulk_create(
        [
            Organization(name=f"Anomaly Bench {n:04d}", slug=f"{SLUG_PREFIX}{n:04d}")
            for n in range(1, ORGANIZATIONS + 1)
        ],
        ignore_conflicts=True,
    )
    return list(
        Organization.objects.filter(slug__startswith=SLUG_PREFIX).order_by("pk").values_list("pk", flat=True)
    )


# The planted spikes: series (organization, meter index) with (org + meter) % 97 = 0,
# on day 60 + org % 25 of the 90.
_SPIKE = "((o.id + m.idx) %% 97 = 0 AND d = 60 + (o.id %% 25))"


def prepare_data_set(org_ids: list[int], first_day: date, log: Callable[[str], None]) -> dict[str, Any]:
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM metering_usagedailyrollup WHERE organization_id = ANY(%s)", [org_ids]
        )
        present = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT min(day) FROM metering_usagedailyrollup WHERE organization_id = ANY(%s)", [org_ids]
        )
        start = cursor.fetchone()[0]
        if present >= EXPECTED_ROLLUPS_MIN and start == first_day:
            log(f"anomaly_detection: reusing {present:,} daily rollups")
            return {"generated": False, "rollups": present}
        log("anomaly_detection: generating the daily rollups")
        started = time.perf_counter()
        meters_sql = ", ".join(f"({index}, '{cap}', '{meter}')" for index, (cap, meter) in enumerate(METERS))
        with transaction.atomic():
            cursor.execute("DELETE FROM metering_usageanomaly WHERE organization_id = ANY(%s)", [org_ids])
            cursor.execute("DELETE FROM metering_usagedailyrollup WHERE organization_id = ANY(%s)", [org_ids])
            # Constant SQL: the meter list is this module's; values are parameters.
            cursor.execute(
                f"""
                INSERT INTO metering_usagedailyrollup
                    (organization_id, capability, meter, day, quantity, events)
                SELECT o.id, m.capability, m.meter, %(first_day)s::date + d,
                    CASE
                        WHEN {_SPIKE} THEN level * 10
                        ELSE GREATEST(1, round(
                            level * (CASE WHEN extract(isodow FROM %(first_day)s::date + d) >= 6
                                          THEN 0.15 ELSE 1 END)
                            * (0.8 + random() * 0.4)))::bigint
                    END,
                    1
                FROM unnest(%(orgs)s::bigint[]) AS o(id)
                CROSS JOIN (VALUES {meters_sql}) AS m(idx, capability, meter)
                CROSS JOIN generate_series(0, %(days)s - 1) AS d
                CROSS JOIN LATERAL (SELECT 20 + ((o.id * 7 + m.idx * 13) %% 481) AS level) AS l
                WHERE m.idx <> %(sparse)s OR random() < 0.25 OR {_SPIKE}
                """,  # noqa: S608
                {"orgs": org_ids, "first_day": first_day, "days": DAYS, "sparse": SPARSE_METER},
            )
        cursor.execute("ANALYZE metering_usagedailyrollup")
        cursor.execute(
            "SELECT count(*) FROM metering_usagedailyrollup WHERE organization_id = ANY(%s)", [org_ids]
        )
        present = int(cursor.fetchone()[0])
    seconds = time.perf_counter() - started
    log(f"anomaly_detection: {present:,} daily rollups in {seconds:.1f} s")
    return {"generated": True, "rollups": present, "generation_s": round(seconds, 1)}


def planted(org_ids: list[int], first_day: date) -> set[tuple[int, str, str, date]]:
    return {
        (org, METERS[index][0], METERS[index][1], first_day + timedelta(days=60 + org % 25))
        for org in org_ids
        for index in range(len(METERS))
        if (org + index) % 97 == 0
    }


def _by_meter(keys: set[tuple[int, str, str, date]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, capability, meter, _ in keys:
        counts[f"{capability}.{meter}"] = counts.get(f"{capability}.{meter}", 0) + 1
    return counts


def _timed_rollback(call: Callable[[], Any]) -> tuple[float, Any]:
    """Milliseconds of `call` inside a transaction that is then rolled back."""
    from django.db import transaction

    with transaction.atomic():
        started = time.perf_counter()
        answer = call()
        elapsed = (time.perf_counter() - started) * 1000
        transaction.set_rollback(True)
    return elapsed, answer


def _group_by(days: list[date]) -> Callable[[], int]:
    from django.db import connection

    def run() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT organization_id, capability, meter, sum(quantity)
                FROM metering_usagedailyrollup
                WHERE day BETWEEN %s AND %s
                GROUP BY organization_id, capability, meter
                """,
                [days[0] - timedelta(days=28), days[-1]],
            )
            return len(cursor.fetchall())

    return run


def _compare(days: list[date], now: datetime, runs: int) -> dict[str, Any]:
    from metering import anomalies

    ours_runs, baseline_runs = [], []
    found = 0
    for _ in range(runs):
        elapsed, ids = _timed_rollback(lambda: anomalies.record_anomalies(days, now))
        ours_runs.append(elapsed)
        found = len(ids)
        elapsed, _ = _timed_rollback(_group_by(days))
        baseline_runs.append(elapsed)
    ours = sorted(ours_runs)[len(ours_runs) // 2]
    baseline = sorted(baseline_runs)[len(baseline_runs) // 2]
    return {
        "days": len(days),
        "ours_ms": round(ours, 1),
        "baseline_ms": round(baseline, 1),
        "ratio": round(ours / baseline, 2),
        "anomalies": found,
        "ours_ms_runs": [round(value, 1) for value in ours_runs],
        "baseline_ms_runs": [round(value, 1) for value in baseline_runs],
    }


def run(log: Callable[[str], None] = print) -> dict[str, Any]:
    from django.db import connection

    from bench.harness import write_result
    from metering import anomalies
    from metering.models import UsageAnomaly

    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=DAYS)
    org_ids = _organizations()
    data = prepare_data_set(org_ids, first_day, log)
    now = datetime.now(UTC)
    every_day = [first_day + timedelta(days=n) for n in range(anomalies.WINDOW_DAYS, DAYS)]
    yesterday = [today - timedelta(days=1)]

    catch_up = _compare(every_day, now, CATCH_UP_RUNS)
    daily = _compare(yesterday, now, RUNS)

    # The real thing once: records the anomalies and raises their alerts.
    UsageAnomaly.objects.filter(organization_id__in=org_ids).delete()
    started = time.perf_counter()
    recorded = anomalies.detect(every_day)
    detect_ms = (time.perf_counter() - started) * 1000
    found = {(a.organization_id, a.capability, a.meter, a.day) for a in recorded}
    expected = planted(org_ids, first_day)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        postgres = cursor.fetchone()[0].split(" on ")[0]

    return write_result(
        "anomaly_detection",
        metric="median time of anomaly detection over every closed day with a full window (62 days), "
        "1,000 organizations x 10 meters x 90 days of daily rollups",
        unit="ms",
        ours=catch_up["ours_ms"],
        baseline=catch_up["baseline_ms"],
        baseline_name="a plain GROUP BY (organization, capability, meter) sum over the same rollups",
        higher_is_better=False,
        target="report the ratio; every planted spike found; say what else is found",
        runs=CATCH_UP_RUNS,
        ratio_reads="GROUP BY time / detection time (the harness's ratio for lower-is-better figures); "
        "detection_over_group_by is its inverse: how many plain GROUP BYs one detection costs",
        detection_over_group_by=round(catch_up["ours_ms"] / catch_up["baseline_ms"], 2),
        data_set={**data, "organizations": len(org_ids), "meters": len(METERS), "days": DAYS},
        catch_up=catch_up,
        daily=daily,
        detect_with_alerts_ms=round(detect_ms, 1),
        planted_spikes=len(expected),
        planted_found=len(expected & found),
        unplanted=len(found - expected),
        unplanted_by_meter=_by_meter(found - expected),
        unplanted_reads="anomalies on no planted day: a series of the meter used on a quarter of the days "
        "(weekdays at its level, weekends at 15 %) whose 28-day window happened to hold only weekend "
        "days, then a weekday at about 7x them: a real change against 28 days, not a planted spike",
        postgres=postgres,
    )
