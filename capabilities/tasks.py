"""The job runner: one Celery task every capability's jobs go through, on the
capability's own queue. It re-reads the toggle from the database when a job
starts, so a job queued before its capability was switched off is refused."""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from typing import Any

from celery import Task, shared_task
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from capabilities.jobs import JobContext, JobFailed, job_function
from capabilities.models import Job
from capabilities.registry import COMPUTE_SECONDS, registry
from capabilities.signals import job_finished
from metering import ledger
from metering.models import EventKind
from portal.models import Organization

logger = logging.getLogger(__name__)


def relax_durability() -> None:
    """Let this transaction commit without waiting for the WAL flush (PostgreSQL).
    For state that is rebuilt if lost: claims and progress, never usage."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _refuse(job: Job, message: str, code: str) -> None:
    job.status = Job.Status.REFUSED
    job.error = message
    job.error_code = code
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "error_code", "finished_at"])
    if job_finished.receivers:
        transaction.on_commit(lambda: _announce(job, Job.Status.REFUSED))


def _announce(job: Job, status: str) -> None:
    job_finished.send_robust(
        sender=Job,
        job_id=job.pk,
        organization_id=job.organization_id,
        capability=job.capability,
        kind=job.kind,
        status=status,
    )


# Claim a job: a running one again (its message came back), a queued one if its
# organization is active and its capability on, read now. Plain SQL: one round
# trip for the checks, the update and the row, on the busiest path of the worker;
# its commit needn't wait for the WAL flush (see _claim).
CLAIM = """
    UPDATE capabilities_job AS job
    SET status = %(running)s, attempts = job.attempts + 1, started_at = COALESCE(job.started_at, %(now)s)
    WHERE job.id = %(id)s AND (
        job.status = %(running)s
        OR (
            job.status = %(queued)s
            AND EXISTS (
                SELECT 1 FROM portal_organization org
                WHERE org.id = job.organization_id AND org.status = %(active)s
            )
            AND EXISTS (
                SELECT 1 FROM capabilities_featuretoggle toggle
                WHERE toggle.organization_id = job.organization_id
                  AND toggle.capability_key = job.capability AND toggle.enabled
            )
        )
    )
    RETURNING *, set_config('synchronous_commit', 'off', true) AS commit_mode
"""


def _claim(job_id: int) -> Job | None:
    """Take a job for this delivery. A queued job is started if its
    organization is active and its capability on, read from the database now;
    a running one is taken again, because its message came back: the worker
    that had it died (acks_late + reject_on_worker_lost) or the broker
    delivered it twice. Finished and cancelled jobs are left alone."""
    # Checks, claim and the claimed row: one statement, and so a transaction of
    # its own, on the worker's busiest path (no BEGIN and COMMIT round trips).
    # Losing a claim in a crash loses nothing: the message comes back and the
    # job is claimed again. Only the result's transaction (usage) must be
    # durable, so the claim's commit doesn't wait for the disk flush (the
    # statement says so itself).
    claimed = list(
        Job.objects.raw(
            CLAIM,
            {
                "id": job_id,
                "now": timezone.now(),
                "running": Job.Status.RUNNING,
                "queued": Job.Status.QUEUED,
                "active": Organization.Status.ACTIVE,
            },
        )
    )
    if claimed:
        return claimed[0]
    with transaction.atomic():
        # Not claimed: gone, finished, cancelled, or refused now. Say which.
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != Job.Status.QUEUED:
            return None
        if not Organization.objects.filter(
            pk=job.organization_id, status=Organization.Status.ACTIVE
        ).exists():
            _refuse(job, "The organization was suspended before this job started.", "organization_suspended")
        else:
            title = registry().get(job.capability).title
            _refuse(job, f"{title} was switched off before this job started.", "capability_disabled")
        return None


@shared_task(
    bind=True, name="capabilities.run_job", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def run_job(self: Task, job_id: int) -> str:
    try:
        return _run(job_id)
    except DatabaseError as error:
        # The database failed us (connection lost, deadlock, failover), not the
        # job: run it again later. Its usage keys make a second run count once.
        logger.warning("Job %s hit a database error (%s); retrying", job_id, error)
        raise self.retry(countdown=2, max_retries=10) from error


def _run(job_id: int) -> str:
    job = _claim(job_id)
    if job is None:
        return "skipped"
    outcome = _execute(job)
    if outcome in (Job.Status.SUCCEEDED, Job.Status.FAILED) and job_finished.receivers:
        _announce(job, outcome)
    return outcome


def _execute(job: Job) -> str:
    """Run the job's function and record its outcome."""
    context = JobContext(job=job, input=dict(job.input or {}))
    started = time.monotonic()
    try:
        function = job_function(job.capability, job.kind)
        result = function(context)
    except JobFailed as failure:
        return _fail(job, str(failure), "job_failed")
    except Exception:
        logger.exception(
            "Job %s (%s.%s, org %s) crashed", job.pk, job.capability, job.kind, job.organization_id
        )
        return _fail(
            job,
            "The job stopped on an internal error; it has been logged. Nothing was billed.",
            "internal_error",
        )
    elapsed = time.monotonic() - started
    return _succeed(job, result if isinstance(result, dict) else {"value": result}, context.usage, elapsed)


def _usage_records(job: Job, usage: dict[str, int], elapsed: float, at: datetime) -> list[ledger.UsageRecord]:
    """The job's usage, keyed `job:<id>:<meter>`: a redelivered or duplicated
    run of the same job can never count twice."""
    records = [
        ledger.UsageRecord(
            organization_id=job.organization_id,
            capability=job.capability,
            meter=meter,
            quantity=quantity,
            occurred_at=at,
            idempotency_key=f"job:{job.pk}:{meter}",
            kind=EventKind.UNITS,
            job_id=job.pk,
        )
        for meter, quantity in sorted(usage.items())
        if quantity
    ]
    records.append(
        ledger.UsageRecord(
            organization_id=job.organization_id,
            capability=job.capability,
            meter=COMPUTE_SECONDS,
            quantity=max(1, math.ceil(elapsed)),
            occurred_at=at,
            idempotency_key=f"job:{job.pk}:{COMPUTE_SECONDS}",
            kind=EventKind.COMPUTE,
            job_id=job.pk,
        )
    )
    return records


# Mark a running job succeeded; the guard of the result's statement on
# PostgreSQL (see _succeed). A job another delivery finished matches no row.
FINISH = """
    UPDATE capabilities_job
    SET status = %s, result = %s, error = '', error_code = '', finished_at = %s,
        progress_done = progress_total
    WHERE id = %s AND status = %s
    RETURNING id
"""


def _succeed(job: Job, result: dict[str, Any], usage: dict[str, int], elapsed: float) -> str:
    """Result, status, usage events and rollups: one transaction, committed
    durably (the connection's synchronous commit)."""
    now = timezone.now()
    records = _usage_records(job, usage, elapsed, now)
    # One statement outside any transaction block: a transaction of its own,
    # in one round trip.
    result_value = Job._meta.get_field("result").get_db_prep_value(result, connection)
    params = [Job.Status.SUCCEEDED, result_value, now, job.pk, Job.Status.RUNNING]
    finished = ledger.append_if(FINISH, params, records) is not None
    if not finished:
        return "already finished"  # another delivery of this job got there first
    return Job.Status.SUCCEEDED


def _fail(job: Job, error: str, code: str) -> str:
    failed = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED, error=error, error_code=code, finished_at=timezone.now()
    )
    return Job.Status.FAILED if failed else "already finished"
