"""What the fault run checks once every job has finished: the jobs, the
documents against the client's logical uploads, and the ledger against the
succeeded jobs, its rollups and the client's count of API calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from bench.fault_run.load import ClientCounts, LogicalUpload

TERMINAL = ("succeeded", "failed", "refused", "cancelled")
PAGES_METER = "pages"
COMPUTE_METER = "compute_seconds"
API_CALLS_METER = "api_calls"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _one(sql: str, params: list[Any]) -> Any:
    return _rows(sql, params)[0][0]


def job_counts(organization_id: int) -> dict[str, int]:
    rows = _rows(
        "SELECT status, count(*) FROM capabilities_job WHERE organization_id = %s GROUP BY status",
        [organization_id],
    )
    return dict(sorted(rows))


def api_calls_in_ledger(organization_id: int) -> int:
    return int(
        _one(
            "SELECT coalesce(sum(quantity), 0) FROM metering_usageevent "
            "WHERE organization_id = %s AND meter = %s",
            [organization_id, API_CALLS_METER],
        )
    )


def _jobs(organization_id: int) -> tuple[dict[str, Any], list[Check]]:
    by_status = job_counts(organization_id)
    total = sum(by_status.values())
    unfinished = sum(count for status, count in by_status.items() if status not in TERMINAL)
    retried = _rows(
        "SELECT attempts, count(*) FROM capabilities_job WHERE organization_id = %s AND attempts > 1 "
        "GROUP BY attempts ORDER BY attempts",
        [organization_id],
    )
    publications = _rows(
        "SELECT publications, count(*) FROM capabilities_job WHERE organization_id = %s "
        "GROUP BY publications ORDER BY publications",
        [organization_id],
    )
    errors = _rows(
        "SELECT error_code, left(error, 120), count(*) FROM capabilities_job "
        "WHERE organization_id = %s AND status <> 'succeeded' GROUP BY 1, 2 ORDER BY 3 DESC",
        [organization_id],
    )
    figures = {
        "total": total,
        "by_status": by_status,
        "attempts_over_1": sum(count for _, count in retried),
        "by_attempts": {str(attempts): count for attempts, count in retried},
        "republished": sum(count for sent, count in publications if sent > 1),
        "by_publications": {str(sent): count for sent, count in publications},
        "not_succeeded_reasons": [
            {"code": code, "error": error, "jobs": count} for code, error, count in errors
        ],
    }
    checks = [
        Check("every job terminal", unfinished == 0, f"{unfinished} of {total} jobs queued or running"),
    ]
    return figures, checks


def _documents(organization_id: int, uploads: list[LogicalUpload]) -> tuple[dict[str, Any], list[Check]]:
    names = dict(
        _rows(
            "SELECT name, count(*) FROM documents_document WHERE organization_id = %s GROUP BY name",
            [organization_id],
        )
    )
    expected = {file.name for upload in uploads for file in upload.files}
    acknowledged = {file.name for upload in uploads if upload.outcome == "created" for file in upload.files}
    stored = sum(names.values())
    duplicated = {name: count for name, count in names.items() if count > 1}
    missing_acknowledged = sorted(acknowledged - set(names))
    unexpected = sorted(set(names) - expected)
    stored_not_acknowledged = sorted(set(names) & (expected - acknowledged))
    outcomes: dict[str, int] = {}
    for upload in uploads:
        outcomes[upload.outcome] = outcomes.get(upload.outcome, 0) + 1
    figures = {
        "logical_uploads": len(uploads),
        "logical_files": len(expected),
        "upload_outcomes": outcomes,
        "uploads_retried": sum(1 for upload in uploads if len(upload.statuses) > 1),
        "stored": stored,
        "distinct_stored": len(names),
        "duplicate_documents": stored - len(names),
        "files_stored_more_than_once": len(duplicated),
        "acknowledged_but_missing": len(missing_acknowledged),
        "stored_but_not_acknowledged": len(stored_not_acknowledged),
        "unexpected": len(unexpected),
        "without_job": _one(
            "SELECT count(*) FROM documents_document WHERE organization_id = %s AND job_id IS NULL",
            [organization_id],
        ),
    }
    checks = [
        Check(
            "no duplicate documents from retries",
            not duplicated,
            f"{stored} documents for {len(names)} distinct files "
            f"({len(duplicated)} files stored more than once)",
        ),
        Check(
            "every acknowledged file stored",
            not missing_acknowledged,
            f"{len(missing_acknowledged)} acknowledged files missing" + _sample(missing_acknowledged),
        ),
        Check(
            "every logical upload answered",
            outcomes.get("gave_up", 0) == 0,
            f"{outcomes.get('gave_up', 0)} uploads given up after retrying",
        ),
    ]
    return figures, checks


def _sample(names: list[str]) -> str:
    return f" (e.g. {', '.join(names[:3])})" if names else ""


def _ledger(organization_id: int, uploads: list[LogicalUpload]) -> tuple[dict[str, Any], list[Check]]:
    org = [organization_id]
    succeeded_pages = int(
        _one(
            "SELECT coalesce(sum((result->>'pages')::int), 0) FROM capabilities_job "
            "WHERE organization_id = %s AND status = 'succeeded' AND capability = 'documents'",
            org,
        )
    )
    succeeded = int(
        _one("SELECT count(*) FROM capabilities_job WHERE organization_id = %s AND status = 'succeeded'", org)
    )
    generated_pages = {file.name: file.pages for upload in uploads for file in upload.files}
    # Pages the generator put into the files whose job succeeded (each stored copy counts).
    succeeded_names = _rows(
        "SELECT d.name FROM documents_document d JOIN capabilities_job j ON j.id = d.job_id "
        "WHERE d.organization_id = %s AND j.status = 'succeeded'",
        org,
    )
    generated_for_succeeded = sum(generated_pages.get(name, 0) for (name,) in succeeded_names)
    ledger_pages = int(
        _one(
            "SELECT coalesce(sum(quantity), 0) FROM metering_usageevent "
            "WHERE organization_id = %s AND capability = 'documents' AND meter = %s",
            [organization_id, PAGES_METER],
        )
    )
    meters = {
        f"{capability}/{meter}": {"quantity": int(quantity), "events": events}
        for capability, meter, quantity, events in _rows(
            "SELECT capability, meter, sum(quantity), count(*) FROM metering_usageevent "
            "WHERE organization_id = %s GROUP BY 1, 2 ORDER BY 1, 2",
            org,
        )
    }
    billed_unsucceeded = _one(
        "SELECT count(*) FROM metering_usageevent e JOIN capabilities_job j ON j.id = e.job_id "
        "WHERE e.organization_id = %s AND j.status <> 'succeeded'",
        org,
    )
    twice_per_job = _one(
        "SELECT count(*) FROM (SELECT job_id, meter FROM metering_usageevent "
        "WHERE organization_id = %s AND job_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) t",
        org,
    )
    compute_events = _one(
        "SELECT count(DISTINCT job_id) FROM metering_usageevent WHERE organization_id = %s AND meter = %s",
        [organization_id, COMPUTE_METER],
    )
    duplicate_keys = _one(
        "SELECT count(*) FROM (SELECT idempotency_key FROM metering_usageevent "
        "GROUP BY 1 HAVING count(*) > 1) t",
        [],
    )
    rollup_differences = _rollup_differences(organization_id)
    figures = {
        "meters": meters,
        "pages_in_ledger": ledger_pages,
        "pages_of_succeeded_jobs": succeeded_pages,
        "pages_generated_for_succeeded_documents": generated_for_succeeded,
        "succeeded_jobs": succeeded,
        "succeeded_jobs_with_compute_event": compute_events,
        "events_of_jobs_not_succeeded": billed_unsucceeded,
        "job_meters_counted_twice": twice_per_job,
        "duplicate_idempotency_keys": duplicate_keys,
        "rollup_differences": rollup_differences,
    }
    checks = [
        Check(
            "ledger pages == succeeded jobs' pages",
            ledger_pages == succeeded_pages == generated_for_succeeded,
            f"ledger {ledger_pages}, jobs' results {succeeded_pages}, "
            f"generated into those documents {generated_for_succeeded}",
        ),
        Check(
            "each succeeded job billed once, nothing else billed",
            compute_events == succeeded and billed_unsucceeded == 0 and twice_per_job == 0,
            f"{compute_events} of {succeeded} succeeded jobs have their compute event; "
            f"{billed_unsucceeded} events of jobs not succeeded; {twice_per_job} job meters counted twice",
        ),
        Check("no duplicate idempotency keys", duplicate_keys == 0, f"{duplicate_keys} keys more than once"),
        Check(
            "rollups == events (hour, day, month)",
            not rollup_differences,
            f"{len(rollup_differences)} differing rows" + _sample([str(row) for row in rollup_differences]),
        ),
    ]
    return figures, checks


# Each grain's rollup rows against the ledger grouped the same way.
ROLLUP_GRAINS = {
    "metering_usagerollup": ("hour", "date_trunc('hour', occurred_at, 'UTC')"),
    "metering_usagedailyrollup": ("day", "(date_trunc('hour', occurred_at, 'UTC') AT TIME ZONE 'UTC')::date"),
    "metering_usagemonthlyrollup": (
        "month",
        "date_trunc('month', date_trunc('hour', occurred_at, 'UTC') AT TIME ZONE 'UTC')::date",
    ),
}


def _rollup_differences(organization_id: int) -> list[dict[str, Any]]:
    differences = []
    for table, (column, bucket) in ROLLUP_GRAINS.items():
        # Constant table and column names from ROLLUP_GRAINS; the organization is a parameter.
        rows = _rows(
            f"""
            WITH ledger AS (
                SELECT capability, meter, {bucket} AS bucket, sum(quantity) AS quantity, count(*) AS events
                FROM metering_usageevent WHERE organization_id = %s GROUP BY 1, 2, 3
            ), rollup AS (
                SELECT capability, meter, {column} AS bucket, quantity, events
                FROM {table} WHERE organization_id = %s
            )
            SELECT coalesce(l.capability, r.capability), coalesce(l.meter, r.meter),
                   coalesce(l.bucket, r.bucket)::text, l.quantity, r.quantity, l.events, r.events
            FROM ledger l FULL JOIN rollup r
              ON l.capability = r.capability AND l.meter = r.meter AND l.bucket = r.bucket
            WHERE l.quantity IS DISTINCT FROM r.quantity OR l.events IS DISTINCT FROM r.events
            """,  # noqa: S608
            [organization_id, organization_id],
        )
        differences += [
            {
                "grain": column,
                "capability": row[0],
                "meter": row[1],
                "bucket": row[2],
                "ledger": {"quantity": row[3], "events": row[5]},
                "rollup": {"quantity": row[4], "events": row[6]},
            }
            for row in rows
        ]
    return differences


def _api_calls(organization_id: int, counts: ClientCounts) -> tuple[dict[str, Any], list[Check]]:
    in_ledger = api_calls_in_ledger(organization_id)
    client = counts.as_dict()["keyed_2xx"]
    figures = {"in_ledger": in_ledger, "client_2xx": client, "lost": client - in_ledger}
    lost = client - in_ledger
    share = f" ({lost / client:.0%} lost)" if client and lost > 0 else ""
    checks = [
        Check(
            "API calls in ledger == client-counted 2xx keyed calls",
            in_ledger == client,
            f"ledger {in_ledger}, client {client}{share}",
        )
    ]
    return figures, checks


def check(organization_id: int, uploads: list[LogicalUpload], counts: ClientCounts) -> dict[str, Any]:
    jobs, job_checks = _jobs(organization_id)
    documents, document_checks = _documents(organization_id, uploads)
    ledger, ledger_checks = _ledger(organization_id, uploads)
    api_calls, api_checks = _api_calls(organization_id, counts)
    checks = [*job_checks, *document_checks, *ledger_checks, *api_checks]
    return {
        "jobs": jobs,
        "documents": documents,
        "ledger": ledger,
        "api_calls": api_calls,
        "checks": [item.as_dict() for item in checks],
        "passed": all(item.ok for item in checks),
    }
