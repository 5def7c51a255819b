"""The job runner: one Celery task every capability's jobs go through, on the
capability's own queue. It re-reads the toggle from the database when a job
starts, so a job queued before its capability was switched off is refused."""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from typing import Any

from celery import shared_task
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from capabilities.gate import enabled_in_database
from capabilities.jobs import JobContext, JobFailed, job_function
from capabilities.models import Job
from capabilities.registry import COMPUTE_SECONDS, registry
from metering import ledger
from metering.models import EventKind
from portal.models import Organization

logger = logging.getLogger(__name__)


def relax_durability() -> None:
    """Let this transaction commit without waiting for the WAL flush (PostgreSQL).
    For state that is rebuilt if lost: claims and progress, never usage."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _refuse(job: Job, message: str, code: str) -> None:
    job.status = Job.Status.REFUSED
    job.error = message
    job.error_code = code
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "error_code", "finished_at"])


def _claim(job_id: int) -> Job | None:
    """Take a job for this delivery. A queued job is started; a running one is
    taken again, because its message came back: the worker that had it died
    (acks_late + reject_on_worker_lost) or the broker delivered it twice.
    Finished and cancelled jobs are left alone."""
    with transaction.atomic():
        # Losing a claim in a crash loses nothing: the message comes back and the
        # job is claimed again. Only the result's transaction (usage) must be
        # durable, so the claim skips waiting for the disk flush.
        relax_durability()
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (Job.Status.QUEUED, Job.Status.RUNNING):
            return None
        if job.status == Job.Status.QUEUED:
            # Re-read at start, from the database: switched off or suspended while
            # the job waited means refused, and nothing billed.
            if not Organization.objects.filter(
                pk=job.organization_id, status=Organization.Status.ACTIVE
            ).exists():
                _refuse(
                    job, "The organization was suspended before this job started.", "organization_suspended"
                )
                return None
            if not enabled_in_database(job.organization_id, job.capability):
                title = registry().get(job.capability).title
                _refuse(job, f"{title} was switched off before this job started.", "capability_disabled")
                return None
            job.started_at = timezone.now()
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "attempts"])
        return job


@shared_task(name="capabilities.run_job", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> str:
    job = _claim(job_id)
    if job is None:
        return "skipped"
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


def _succeed(job: Job, result: dict[str, Any], usage: dict[str, int], elapsed: float) -> str:
    """Result, status, usage events and rollups: one transaction."""
    now = timezone.now()
    with transaction.atomic():
        finished = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.SUCCEEDED,
            result=result,
            error="",
            error_code="",
            finished_at=now,
            progress_done=F("progress_total"),
        )
        if not finished:
            return "already finished"  # another delivery of this job got there first
        ledger.append(_usage_records(job, usage, elapsed, now))
    return Job.Status.SUCCEEDED


def _fail(job: Job, error: str, code: str) -> str:
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED, error=error, error_code=code, finished_at=timezone.now()
    )
    return Job.Status.FAILED
