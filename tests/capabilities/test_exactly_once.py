"""Every unit counted exactly once, with real worker processes: a duplicated
task message, a worker killed with SIGKILL mid-job, and a job that raises."""

import os
import signal

import pytest
from django.db.models import Sum

from capabilities import actions, sweep
from capabilities.models import Job
from capabilities.runner import run_job
from metering.models import UsageEvent, UsageRollup
from tests.workers import celery_worker, wait_for, worker_log

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _job(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def _pages(organization) -> tuple[int, int]:
    """Pages in the ledger and in the rollups: they must always agree."""
    events = UsageEvent.objects.filter(organization=organization, meter="pages")
    rollups = UsageRollup.objects.filter(organization=organization, meter="pages")
    return (events.aggregate(n=Sum("quantity"))["n"] or 0, rollups.aggregate(n=Sum("quantity"))["n"] or 0)


@pytest.fixture
def ocr_on(alice, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)


def test_a_message_delivered_twice_counts_once(ocr_on, alice, acme):
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 4})
    # The broker hands out the same message again (same task id, same job).
    run_job.apply_async(args=[job.pk], queue="cap.ocr", task_id=_job(job).celery_task_id)
    run_job.apply_async(args=[job.pk], queue="cap.ocr", task_id=_job(job).celery_task_id)

    with celery_worker(queues="cap.ocr", pool="prefork", concurrency=2) as worker:
        wait_for(lambda: _job(job).status == Job.Status.SUCCEEDED, 60, "the job to succeed")
        # Let every copy of the message be processed before counting.
        wait_for(lambda: worker_log_count(worker, "capabilities.run_job") >= 3, 60, "all three deliveries")

    assert _pages(acme) == (4, 4)
    keys = set(UsageEvent.objects.filter(job_id=job.pk).values_list("idempotency_key", flat=True))
    assert keys == {f"job:{job.pk}:pages", f"job:{job.pk}:compute_seconds"}


def worker_log_count(worker, text: str) -> int:
    """How many task receipts the worker's log shows (its stdout goes to a file)."""
    return worker_log(worker).count(f"Task {text}[") // 2  # received + succeeded lines


def test_a_worker_killed_mid_job_is_redelivered_and_counted_once(ocr_on, alice, acme, tmp_path):
    """The message comes back (visibility timeout) while the dead worker's lease
    may still run: the job is taken again once the lease has expired, by that
    message or by the sweep's."""
    release = tmp_path / "release"
    quick = {"CELERY_VISIBILITY_TIMEOUT": "3", "JOB_LEASE_SECONDS": "2", "JOB_LEASE_RENEW": "0.5"}
    job = actions.start_job(
        alice, acme, "ocr", kind="recognize", job_input={"pages": 6, "hold_until_exists": str(release)}
    )
    with celery_worker(queues="cap.ocr", env=quick) as doomed:
        wait_for(lambda: _job(job).status == Job.Status.RUNNING, 60, "the job to start")
        os.kill(doomed.pid, signal.SIGKILL)  # no ack, no cleanup: the machine died
        doomed.wait()
    assert _job(job).status == Job.Status.RUNNING
    assert _pages(acme) == (0, 0)

    release.touch()
    with celery_worker(queues="cap.ocr", env={**quick, "JOB_LEASE_SECONDS": "60"}):
        wait_for(
            lambda: sweep.sweep_jobs() and _job(job).status == Job.Status.SUCCEEDED,
            90,
            "the redelivered job to succeed",
        )

    job = _job(job)
    assert job.attempts == 2
    assert _pages(acme) == (6, 6)
    assert UsageEvent.objects.filter(job_id=job.pk, meter="pages").count() == 1


def test_a_job_that_raises_records_nothing(ocr_on, alice, acme):
    job = actions.start_job(alice, acme, "ocr", kind="explode")
    failing = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 3, "fail": True})
    with celery_worker(queues="cap.ocr"):
        wait_for(lambda: _job(job).is_finished and _job(failing).is_finished, 60, "both jobs to finish")

    assert (_job(job).status, _job(job).error_code) == (Job.Status.FAILED, "internal_error")
    assert "disk on fire" not in _job(job).error  # internals stay in the logs
    assert (_job(failing).status, _job(failing).error) == (Job.Status.FAILED, "The scan was unreadable.")
    assert not UsageEvent.objects.filter(organization=acme).exists()
    assert not UsageRollup.objects.filter(organization=acme).exists()


def test_a_successful_job_commits_result_usage_and_rollups_together(ocr_on, alice, acme):
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 3})
    with celery_worker(queues="cap.ocr"):
        wait_for(lambda: _job(job).status == Job.Status.SUCCEEDED, 60, "the job")
    job = _job(job)
    assert job.result == {"pages": 3, "text": "recognised"}
    assert _pages(acme) == (3, 3)
    compute = UsageEvent.objects.get(job_id=job.pk, meter="compute_seconds")
    assert compute.quantity >= 1 and compute.kind == "compute"


def test_a_database_error_while_recording_retries_the_job_and_counts_once(ocr_on, alice, acme, monkeypatch):
    """The database fails once as the result is committed (a dropped connection,
    a deadlock): the task retries, the job runs again, and its usage counts once."""
    from django.db import OperationalError

    from metering import ledger

    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})
    real_append_if = ledger.append_if_charging
    failures = []

    def flaky_append_if(guard, params, records, charge=None):
        if not failures:
            failures.append(records)
            raise OperationalError("server closed the connection unexpectedly")
        return real_append_if(guard, params, records, charge)

    monkeypatch.setattr(ledger, "append_if_charging", flaky_append_if)
    # In-process (eager): the retry runs at once instead of after its countdown.
    run_job.apply(args=[job.pk])

    job = _job(job)
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 2)
    assert len(failures) == 1
    assert _pages(acme) == (2, 2)
