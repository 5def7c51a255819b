"""The job runner: one Celery task every capability's jobs go through, on the
capability's own queue. It re-reads the toggle from the database when a job
starts, so a job queued before its capability was switched off is refused."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from capabilities.gate import enabled_in_database
from capabilities.jobs import JobContext, JobFailed, job_function
from capabilities.models import Job
from capabilities.registry import registry
from portal.models import Organization

logger = logging.getLogger(__name__)


def _claim(job_id: int) -> Job | None:
    """Move a queued job to running; None when it is not queued any more
    (cancelled, or already taken by a duplicate delivery)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != Job.Status.QUEUED:
            return None
        if not Organization.objects.filter(
            pk=job.organization_id, status=Organization.Status.ACTIVE
        ).exists():
            job.status = Job.Status.REFUSED
            job.error = "The organization was suspended before this job started."
            job.error_code = "organization_suspended"
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "error_code", "finished_at"])
            return None
        if not enabled_in_database(job.organization_id, job.capability):
            # Switched off while the job waited: refuse it, bill nothing.
            job.status = Job.Status.REFUSED
            job.error = f"{registry().get(job.capability).title} was switched off before this job started."
            job.error_code = "capability_disabled"
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "error_code", "finished_at"])
            return None
        job.status = Job.Status.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at"])
        return job


@shared_task(name="capabilities.run_job", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> str:
    job = _claim(job_id)
    if job is None:
        return "skipped"
    context = JobContext(job=job, input=dict(job.input or {}))
    try:
        function = job_function(job.capability, job.kind)
        result = function(context)
    except JobFailed as failure:
        return _finish(job, status=Job.Status.FAILED, error=str(failure), code="job_failed")
    except Exception:
        logger.exception(
            "Job %s (%s.%s, org %s) crashed", job.pk, job.capability, job.kind, job.organization_id
        )
        return _finish(
            job,
            status=Job.Status.FAILED,
            error="The job stopped on an internal error; it has been logged. Nothing was billed.",
            code="internal_error",
        )
    return _finish(
        job, status=Job.Status.SUCCEEDED, result=result if isinstance(result, dict) else {"value": result}
    )


def _finish(
    job: Job, *, status: str, result: dict[str, Any] | None = None, error: str = "", code: str = ""
) -> str:
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(
            status=status, result=result, error=error, error_code=code, finished_at=timezone.now()
        )
    return status
