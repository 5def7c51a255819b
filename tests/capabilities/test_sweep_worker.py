"""The sweep with real workers: jobs whose messages were wiped from Redis, a
worker SIGKILLed while running one job and holding others, and a job that
kills its worker every time. The test process runs the sweep (beat's task)
while it waits; the workers get short leases through their environment."""

import os
import signal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from capabilities import actions, sweep
from capabilities.models import Job
from metering.models import UsageEvent, UsageRollup
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A dead worker's lease runs out within seconds; a live one renews it often.
SHORT_LEASE = {"JOB_LEASE_SECONDS": "3", "JOB_LEASE_RENEW": "0.5"}
# The rescuing worker keeps its jobs: a loaded machine never takes them back.
LONG_LEASE = {"JOB_LEASE_SECONDS": "60", "JOB_LEASE_RENEW": "1"}


@pytest.fixture(autouse=True)
def short_grace(settings):
    settings.JOB_REQUEUE_GRACE = 1  # in this process: start_job's message lease and the sweep


@pytest.fixture
def ocr_on(alice, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)


def sweeping_until(condition, timeout: float, what: str) -> None:
    """Wait for `condition`, running the sweep at each look, as beat would."""

    def swept():
        sweep.sweep_jobs()
        return condition()

    wait_for(swept, timeout, what)


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _statuses(jobs: list[Job]) -> dict[str, int]:
    rows = Job.objects.filter(pk__in=[job.pk for job in jobs]).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def _counted_once(organization, jobs: list[Job], pages_each: int) -> None:
    per_job = UsageEvent.objects.filter(organization=organization, meter="pages").values("job_id")
    assert sorted(row["n"] for row in per_job.annotate(n=Count("id"))) == [1] * len(jobs)
    events = UsageEvent.objects.filter(organization=organization, meter="pages").aggregate(n=Sum("quantity"))
    rollups = UsageRollup.objects.filter(organization=organization, meter="pages")
    assert events["n"] == rollups.aggregate(n=Sum("quantity"))["n"] == pages_each * len(jobs)


def test_jobs_whose_messages_were_wiped_all_run_once(ocr_on, alice, acme):
    broker = redis.Redis.from_url(settings.REDIS_URL)
    # An earlier test's job may have left its message on the queue (its worker gone).
    already = broker.llen("cap.ocr")
    jobs = [actions.start_job(alice, acme, "ocr", kind="noop") for _ in range(200)]
    assert broker.llen("cap.ocr") == already + 200
    # Redis restarted without persistence before any worker started. FLUSHDB of
    # the broker's database: the machine's Redis is shared with other suites.
    broker.flushdb()
    assert broker.llen("cap.ocr") == 0

    with celery_worker(queues="cap.ocr", pool="prefork", concurrency=2, env=LONG_LEASE):
        sweeping_until(lambda: _statuses(jobs) == {"succeeded": 200}, 240, "all 200 jobs to succeed")

    _counted_once(acme, jobs, 1)
    assert Job.objects.filter(pk__in=[job.pk for job in jobs], attempts=1).count() == 200


def test_a_killed_workers_running_and_prefetched_jobs_finish_on_another(ocr_on, alice, acme, tmp_path):
    release = tmp_path / "release"
    held = actions.start_job(
        alice, acme, "ocr", kind="recognize", job_input={"pages": 3, "hold_until_exists": str(release)}
    )
    others = [
        actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 3}) for _ in range(5)
    ]
    # The doomed worker prefetches as Celery does by default (4 a process) and
    # restores unacknowledged messages only after an hour: only the sweep can
    # bring its jobs back. Prefork, so its main process goes on fetching while
    # its child runs the held job.
    doomed_env = {
        **SHORT_LEASE,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": "4",
        "CELERY_VISIBILITY_TIMEOUT": "3600",
    }
    broker = redis.Redis.from_url(settings.REDIS_URL)
    with celery_worker(queues="cap.ocr", pool="prefork", concurrency=1, env=doomed_env) as doomed:
        running = lambda: Job.objects.get(pk=held.pk).status == Job.Status.RUNNING  # noqa: E731
        wait_for(running, 60, "the held job to start")
        wait_for(lambda: broker.llen("cap.ocr") <= 2, 60, "the worker to prefetch")
        # The machine dies: the worker and its pool's children, no ack, no cleanup.
        for pid in [doomed.pid, *_children(doomed.pid)]:
            os.kill(pid, signal.SIGKILL)
        doomed.wait()
    assert _statuses(others) == {"queued": 5}
    assert broker.llen("cap.ocr") <= 2  # three or more are held by the dead worker

    release.touch()
    with celery_worker(queues="cap.ocr", pool="prefork", concurrency=2, env=LONG_LEASE):
        sweeping_until(lambda: _statuses([held, *others]) == {"succeeded": 6}, 120, "all six jobs to succeed")

    _counted_once(acme, [held, *others], 3)
    assert Job.objects.get(pk=held.pk).attempts == 2


def test_a_job_that_always_kills_its_worker_fails_unbilled_after_its_attempts(ocr_on, alice, acme):
    doomed = actions.start_job(alice, acme, "ocr", kind="kill_worker")
    fine = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})
    # Prefork: the pool replaces each killed child; the worker itself lives on.
    with celery_worker(queues="cap.ocr", pool="prefork", concurrency=1, env=SHORT_LEASE):
        sweeping_until(
            lambda: Job.objects.get(pk=doomed.pk).is_finished and Job.objects.get(pk=fine.pk).is_finished,
            180,
            "both jobs to finish",
        )

    doomed = Job.objects.get(pk=doomed.pk)
    assert (doomed.status, doomed.error_code, doomed.attempts) == (Job.Status.FAILED, "worker_lost", 3)
    assert doomed.error == "The job stopped its worker 3 times; it was not billed."
    assert not UsageEvent.objects.filter(job_id=doomed.pk).exists()
    assert Job.objects.get(pk=fine.pk).status == Job.Status.SUCCEEDED
    assert UsageEvent.objects.filter(organization=acme, meter="pages").aggregate(n=Sum("quantity"))["n"] == 2


def test_a_live_worker_renews_its_lease_and_keeps_its_job(ocr_on, alice, acme, tmp_path):
    """A job running longer than its lease is not taken back while its worker
    lives: the worker's renewals move the lease on, and the sweep leaves it."""
    release = tmp_path / "release"
    job = actions.start_job(
        alice, acme, "ocr", kind="recognize", job_input={"pages": 2, "hold_until_exists": str(release)}
    )
    # A lease many renewals long: a loaded machine's stalls never outlast it.
    lease = {"JOB_LEASE_SECONDS": "8", "JOB_LEASE_RENEW": "0.5"}
    with celery_worker(queues="cap.ocr", pool="prefork", concurrency=1, env=lease):
        wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.Status.RUNNING, 60, "the job to start")
        first = Job.objects.get(pk=job.pk).lease_expires_at

        def outlived_its_first_lease() -> bool:
            now = timezone.now()
            return now > first and Job.objects.get(pk=job.pk).lease_expires_at > now

        sweeping_until(outlived_its_first_lease, 120, "the job to run past its first lease, renewed")
        assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
        release.touch()
        sweeping_until(lambda: Job.objects.get(pk=job.pk).is_finished, 60, "the job to finish")

    job = Job.objects.get(pk=job.pk)
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 1)
