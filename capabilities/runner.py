"""The job runner: one Celery task every capability's jobs go through, on the
capability's own queue. It re-reads the toggle from the database when a job
starts, so a job queued before its capability was switched off is refused."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from capabilities.gate import (
    budget_condition,
    budget_refusal,
    enabled_condition,
    enabled_in_database,
    reached_budgets,
)
from capabilities.job_context import JobContext, JobFailed, job_function
from capabilities.models import Job
from capabilities.registry import COMPUTE_SECONDS, registry
from capabilities.signals import announce_job_finished, job_finished
from metering import budgets, ledger
from metering.models import EventKind
from portal.db import fetch_prepared, instance_from_row, relax_durability
from portal.models import Organization

logger = logging.getLogger(__name__)


def _refuse(job: Job, message: str, code: str) -> None:
    job.status = Job.Status.REFUSED
    job.error = message
    job.error_code = code
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "error_code", "finished_at"])
    if job_finished.receivers:
        transaction.on_commit(lambda: _announce(job, Job.Status.REFUSED))


def _announce(job: Job, status: str) -> None:
    announce_job_finished(
        job_id=job.pk,
        organization_id=job.organization_id,
        capability=job.capability,
        kind=job.kind,
        status=status,
    )


# Claim a job: a queued one if its organization is active and its capability
# on, read now; a running one only when its claim is over (its worker stopped
# renewing the lease: it died) or is this delivery's own (a retry). A running
# job whose lease is alive is being run: a duplicate message leaves it alone,
# so two workers never run it at once (concurrent claims serialise on the row
# and the second sees the first's lease). Plain SQL: one round trip for the
# checks, the update and the row, on the busiest path of the worker; its commit
# needn't wait for the WAL flush (see _claim).
_CLAIM = """
    UPDATE capabilities_job AS job
    SET status = %(running)s, attempts = job.attempts + 1, started_at = COALESCE(job.started_at, %(now)s),
        lease_expires_at = %(lease_until)s, lease_token = %(token)s
    WHERE job.id = %(id)s AND (
        (
            job.status = %(running)s
            AND (
                job.lease_token = %(previous)s
                OR (
                    (job.lease_expires_at IS NULL OR job.lease_expires_at < %(now)s)
                    AND job.attempts < %(max_attempts)s
                )
            )
        )
        OR (
            job.status = %(queued)s
            AND EXISTS (
                SELECT 1 FROM portal_organization org
                WHERE org.id = job.organization_id AND org.status = %(active)s
            )
            AND {capability_on}
            AND {within_budget}
        )
    )
    RETURNING {columns}, set_config('synchronous_commit', 'off', true) AS commit_mode,
        EXISTS (SELECT 1 FROM metering_budget WHERE organization_id = job.organization_id) AS budgeted
"""
# The capability's rule and the budget rule come from the gate (the one owner
# of "may it run?"), as SQL on the job's columns. A running job taken back
# after its worker died is not asked again: it was admitted. The job's columns
# are named, not `*`: the statement is prepared once per connection (see
# _claim), and a column added while a worker runs must not change its result.
_JOB_FIELDS = [field.attname for field in Job._meta.concrete_fields]
CLAIM = _CLAIM.format(
    columns=", ".join(f"job.{name}" for name in _JOB_FIELDS),
    capability_on=enabled_condition("job.organization_id", "job.capability"),
    within_budget=budget_condition("job.organization_id", "job.capability", "%(period)s"),
)


def _claim(job_id: int, token: str, previous: str | None) -> Job | None:
    """Take a job for this delivery, under the lease `token`. A queued job is
    started if its organization is active and its capability on, read from the
    database now; a running one is taken again only if its lease expired (the
    worker that had it died: acks_late + reject_on_worker_lost, or the sweep's
    message) and it has attempts left, or if `previous` is its lease (this
    task's own retry). Finished and cancelled jobs are left alone; a job that
    died too often is left to the sweep, which fails it."""
    # Checks, claim and the claimed row: one statement, and so a transaction of
    # its own, on the worker's busiest path (no BEGIN and COMMIT round trips).
    # Losing a claim in a crash loses nothing: the job's lease is then the one
    # it had (or none), and the sweep or the message queues it again. Only the
    # result's transaction (usage) must be durable, so the claim's commit
    # doesn't wait for the disk flush (the statement says so itself). Prepared:
    # PostgreSQL planned it in more time than it takes to run.
    now = timezone.now()
    rows = fetch_prepared(
        CLAIM,
        {
            "id": job_id,
            "now": now,
            "lease_until": now + timedelta(seconds=settings.JOB_LEASE_SECONDS),
            "token": token,
            "previous": previous,
            "max_attempts": settings.JOB_MAX_ATTEMPTS,
            "running": Job.Status.RUNNING,
            "queued": Job.Status.QUEUED,
            "active": Organization.Status.ACTIVE,
            "period": budgets.period_start(now),
        },
    )
    if rows:
        claimed = instance_from_row(Job, rows[0])  # CLAIM returns _JOB_FIELDS first
        claimed.budgeted = rows[0][-1]  # type: ignore[attr-defined]
        return claimed
    with transaction.atomic():
        # Not claimed: gone, finished, cancelled, running elsewhere, or refused
        # now. Say which.
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != Job.Status.QUEUED:
            return None
        if not Organization.objects.filter(
            pk=job.organization_id, status=Organization.Status.ACTIVE
        ).exists():
            _refuse(job, "The organization was suspended before this job started.", "organization_suspended")
        elif job.capability not in enabled_in_database(job.organization_id):
            title = registry().get(job.capability).title
            _refuse(job, f"{title} was switched off before this job started.", "capability_disabled")
        else:
            stop = next(
                (stop for stop in reached_budgets(job.organization_id) if stop.covers(job.capability)), None
            )
            if stop is None:
                return None  # the budget was raised meanwhile: its message or the sweep runs it
            _refuse(job, budget_refusal(stop, registry().get(job.capability).title), "budget_exhausted")
        return None


# Extend a running job's lease; only its holder's token matches.
RENEW = """
    UPDATE capabilities_job SET lease_expires_at = %s
    WHERE id = %s AND status = %s AND lease_token = %s
"""


class LeaseRenewer:
    """Renews the leases of the jobs this process runs, every JOB_LEASE_RENEW
    seconds, from one daemon thread per process. A thread rather than the
    job's progress calls: a job may call `ctx.progress` a thousand times a
    second or never (one long OCR call), and its lease must be renewed either
    way; and the job's own path pays only a dict update, never a query. A job
    shorter than the renewal period costs no query at all. The thread has its
    own database connection (Django's are per thread), opened at its first
    renewal. A job function that holds the GIL longer than the lease (a C
    call that never releases it) would lose its lease: the lease is minutes,
    not seconds, in production for that reason."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.held: dict[int, str] = {}
        self.thread = threading.Thread(target=self._loop, name="job-lease-renewer", daemon=True)
        self.thread.start()

    def hold(self, job_id: int, token: str) -> None:
        with self.lock:
            self.held[job_id] = token

    def release(self, job_id: int) -> None:
        with self.lock:
            self.held.pop(job_id, None)

    def _loop(self) -> None:
        while True:
            time.sleep(settings.JOB_LEASE_RENEW)
            with self.lock:
                held = list(self.held.items())
            if held:
                self.renew(held)

    def renew(self, held: list[tuple[int, str]]) -> None:
        until = timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
        try:
            with transaction.atomic():
                relax_durability()  # a lost renewal only makes the lease look shorter
                with connection.cursor() as cursor:
                    for job_id, token in held:
                        cursor.execute(RENEW, [until, job_id, Job.Status.RUNNING, token])
                        if not cursor.rowcount:
                            logger.warning("Job %s lost its lease (taken back or finished)", job_id)
        except Exception:
            # The database is away: try again next period with a new connection;
            # the lease covers several periods.
            logger.exception("Could not renew the leases of jobs %s", [job_id for job_id, _ in held])
            connection.close()


_renewer: LeaseRenewer | None = None


def renewer() -> LeaseRenewer:
    """This process's renewer, started at its first job (after the prefork
    pool's fork: a thread does not survive one)."""
    global _renewer
    if _renewer is None or _renewer.pid != os.getpid():
        _renewer = LeaseRenewer()
    return _renewer


@shared_task(
    bind=True, name="capabilities.run_job", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def run_job(self: Task, job_id: int, lease: str | None = None) -> str:
    token = uuid.uuid4().hex
    try:
        return _run(job_id, token, lease)
    except DatabaseError as error:
        # The database failed us (connection lost, deadlock, failover), not the
        # job: run it again later, under the lease this run took (no other
        # worker takes it meanwhile). Its usage keys make a second run count once.
        logger.warning("Job %s hit a database error (%s); retrying", job_id, error)
        raise self.retry(countdown=2, max_retries=10, kwargs={"lease": token}) from error


def _run(job_id: int, token: str | None = None, previous: str | None = None) -> str:
    """Claim the job under the lease `token` (a new one by default) and run it."""
    token = token or uuid.uuid4().hex
    job = _claim(job_id, token, previous)
    if job is None:
        return "skipped"
    leases = renewer()
    leases.hold(job.pk, token)
    try:
        outcome = _execute(job)
    finally:
        leases.release(job.pk)
    if outcome in (Job.Status.SUCCEEDED, Job.Status.FAILED) and job_finished.receivers:
        _announce(job, outcome)
    return outcome


def _execute(job: Job) -> str:
    """Run the job's function and record its outcome."""
    context = JobContext(job=job, input=dict(job.input or {}))
    started = time.monotonic()
    try:
        try:
            function = job_function(job.capability, job.kind, job.version)
        except LookupError:
            title = registry().title_of(job.capability)
            raise JobFailed(
                f"Version {job.version} of {title}, which this job was queued with, is no longer installed. "
                "Start it again to run it on the version in use now."
            ) from None
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
    return _succeed(
        job,
        result if isinstance(result, dict) else {"value": result},
        context.usage,
        elapsed,
        progress_total=context.progress_total,
    )


def _usage_records(job: Job, usage: dict[str, int], elapsed: float, at: datetime) -> list[ledger.UsageRecord]:
    """The job's usage, keyed `job:<id>:<meter>`: a redelivered or duplicated
    run of the same job can never count twice."""
    # The version the job ran with, so usage can be grouped by it (the usage API's group_by=version).
    version = {"version": job.version} if job.version else {}
    # A version that prices a meter differently has its own meter for it.
    capability = registry().known(job.capability)

    def billed(meter: str) -> str:
        return capability.billed_meter(meter, job.version) if capability is not None else meter

    records = [
        ledger.UsageRecord(
            organization_id=job.organization_id,
            capability=job.capability,
            meter=billed(meter),
            quantity=quantity,
            occurred_at=at,
            idempotency_key=f"job:{job.pk}:{meter}",
            kind=EventKind.UNITS,
            job_id=job.pk,
            properties=version,
        )
        for meter, quantity in sorted(usage.items())
        if quantity
    ]
    records.append(
        ledger.UsageRecord(
            organization_id=job.organization_id,
            capability=job.capability,
            meter=billed(COMPUTE_SECONDS),
            quantity=max(1, math.ceil(elapsed)),
            occurred_at=at,
            idempotency_key=f"job:{job.pk}:{COMPUTE_SECONDS}",
            kind=EventKind.COMPUTE,
            job_id=job.pk,
            properties=version,
        )
    )
    return records


# Mark a running job succeeded; the guard of the result's statement on
# PostgreSQL (see _succeed). A job another delivery finished, or taken back
# from this run (its lease expired), matches no row.
FINISH = """
    UPDATE capabilities_job
    SET status = %s, result = %s, error = '', error_code = '', finished_at = %s,
        progress_done = GREATEST(progress_total, %s), progress_total = GREATEST(progress_total, %s),
        lease_expires_at = NULL
    WHERE id = %s AND status = %s AND lease_token = %s
    RETURNING id
"""


def _succeed(
    job: Job, result: dict[str, Any], usage: dict[str, int], elapsed: float, *, progress_total: int = 0
) -> str:
    """Result, status, usage events and rollups: one transaction, committed
    durably (the connection's synchronous commit). The progress bar ends full,
    at the last total the job reported (some it did not write: JobContext.progress)."""
    now = timezone.now()
    records = _usage_records(job, usage, elapsed, now)
    # One statement outside any transaction block: a transaction of its own,
    # in one round trip.
    result_value = Job._meta.get_field("result").get_db_prep_value(result, connection)
    params = [
        Job.Status.SUCCEEDED,
        result_value,
        now,
        progress_total,
        progress_total,
        job.pk,
        Job.Status.RUNNING,
        job.lease_token,
    ]
    # The organization's budgets (the claim said whether it has any) are
    # charged in the same statement, with the cost of the usage it inserts.
    charge = budgets.charge_ctes(job.organization_id, job.capability, now) if _budgeted(job) else None
    new, charged = ledger.append_if_charging(FINISH, params, records, charge)
    if new is None:
        return "already finished"  # another delivery of this job got there first
    if charged:
        budgets.after_charge(budgets.charged_rows(charged))
    return Job.Status.SUCCEEDED


def _budgeted(job: Job) -> bool:
    return bool(getattr(job, "budgeted", False))


def _fail(job: Job, error: str, code: str) -> str:
    mine = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, lease_token=job.lease_token)
    failed = mine.update(
        status=Job.Status.FAILED,
        error=error,
        error_code=code,
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    return Job.Status.FAILED if failed else "already finished"


@shared_task(name="capabilities.sweep_jobs", ignore_result=True)
def sweep_jobs() -> str:
    """Beat, every JOB_SWEEP_INTERVAL: send again what lost its message, take
    back what lost its worker (capabilities.sweep.sweep_jobs)."""
    from capabilities.sweep import sweep_jobs as sweep

    return str(sweep())
