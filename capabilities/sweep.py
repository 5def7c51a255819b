"""The outbox sweep (beat, every JOB_SWEEP_INTERVAL): the job row is the
record and the broker's message only a nudge, so jobs whose message was lost
or whose worker died are found here, in two set-based statements, and sent
again or failed. It is an engine like the runner; it changes jobs through SQL
that keeps the claim's rules and publishes through `capabilities.actions`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from capabilities.actions import publish_job
from capabilities.models import Job
from capabilities.registry import registry

logger = logging.getLogger(__name__)

# Where the sweep notes its last run for the health page.
SWEEP_LAST_RUN = "capabilities:sweep:last-run"
# At most this many jobs of each kind per sweep: a huge backlog drains over a
# few periods instead of one long transaction and a burst of messages.
SWEEP_BATCH = 1000

# Running jobs whose worker stopped renewing the lease and that used up their
# attempts: failed. Nothing of them was billed (usage is written only with a
# success, which their lease's end ruled out).
SWEEP_FAIL = """
    UPDATE capabilities_job AS job
    SET status = %(failed)s, error = %(error)s, error_code = 'worker_lost', finished_at = %(now)s,
        lease_expires_at = NULL, lease_token = ''
    WHERE job.id IN (
        SELECT id FROM capabilities_job
        WHERE status = %(running)s AND (lease_expires_at IS NULL OR lease_expires_at < %(now)s)
          AND attempts >= %(max_attempts)s
        ORDER BY lease_expires_at NULLS FIRST LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING job.id, job.organization_id, job.capability, job.kind
"""

# Running jobs whose worker stopped renewing the lease (it died) and queued jobs
# whose message was not claimed in time (lost with the broker's data, or held by
# a dead worker): queued, with a new message lease, and sent again. A queued
# job waits twice as long after each send (up to 32 times the grace), so a
# long backlog is not flooded with copies; a job taken back waits the grace.
SWEEP_REQUEUE = """
    UPDATE capabilities_job AS job
    SET status = %(queued)s, lease_token = '', publications = LEAST(job.publications + 1, 32767),
        lease_expires_at = %(now)s + make_interval(secs => %(grace)s * power(2, CASE
            WHEN job.status = %(running)s THEN 0 ELSE LEAST(job.publications, 5) END))
    FROM (
        SELECT id, status FROM capabilities_job
        WHERE (lease_expires_at IS NULL OR lease_expires_at < %(now)s)
          AND (status = %(queued)s OR (status = %(running)s AND attempts < %(max_attempts)s))
        ORDER BY lease_expires_at NULLS FIRST LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) AS stale
    WHERE job.id = stale.id
    RETURNING job.id, job.capability, job.celery_task_id, stale.status
"""


@dataclass(frozen=True)
class SweepResult:
    at: datetime
    failed: int
    requeued: int  # taken back from a dead worker
    republished: int  # queued, sent again

    def __str__(self) -> str:
        return f"{self.failed} failed, {self.requeued} taken back, {self.republished} sent again"


def sweep_jobs(now: datetime | None = None) -> SweepResult:
    """The job row is the record, the message only a nudge: send again every
    queued job whose message was not claimed within its lease, take back every
    running job whose worker stopped renewing its lease, and fail those that
    stopped their worker JOB_MAX_ATTEMPTS times. Sending twice is safe: the
    claim takes a job once per lease and its usage keys count it once."""
    from capabilities.signals import announce_job_finished

    now = now or timezone.now()
    limit = SWEEP_BATCH
    params = {
        "now": now,
        "grace": settings.JOB_REQUEUE_GRACE,
        "max_attempts": settings.JOB_MAX_ATTEMPTS,
        "limit": limit,
        "queued": Job.Status.QUEUED,
        "running": Job.Status.RUNNING,
        "failed": Job.Status.FAILED,
        "error": f"The job stopped its worker {settings.JOB_MAX_ATTEMPTS} times; it was not billed.",
    }
    # Each statement commits on its own; a message is sent only for what committed.
    with connection.cursor() as cursor:
        cursor.execute(SWEEP_FAIL, params)
        failed = cursor.fetchall()
        cursor.execute(SWEEP_REQUEUE, params)
        requeued = cursor.fetchall()
    for job_id, organization_id, capability, kind in failed:
        logger.warning("Job %s (%s.%s) stopped its worker too often; failed", job_id, capability, kind)
        announce_job_finished(
            job_id=job_id,
            organization_id=organization_id,
            capability=capability,
            kind=kind,
            status=Job.Status.FAILED,
        )
    capabilities = registry()
    taken_back = 0
    for job_id, capability, task_id, status in requeued:
        taken_back += status == Job.Status.RUNNING
        try:
            queue = capabilities.get(capability).queue
        except LookupError:
            logger.warning("Job %s belongs to %s, which is not installed; not sent", job_id, capability)
            continue
        if not publish_job(job_id, queue, task_id):
            break  # the broker is down: the rest wait for the next sweep (their leases ran out again)
    result = SweepResult(
        at=now, failed=len(failed), requeued=taken_back, republished=len(requeued) - taken_back
    )
    try:
        cache.set(SWEEP_LAST_RUN, {"at": now.isoformat(), "summary": str(result)}, timeout=None)
    except Exception:  # the health page's note; the sweep itself is done
        logger.warning("Could not note the sweep's run in the cache", exc_info=True)
    return result
