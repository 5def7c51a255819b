"""The toggle rule for jobs, with a real worker on the capability's own queue:
a job still queued when its capability is switched off is refused when a
worker picks it up; a job already running finishes."""

import pytest

from capabilities import actions
from capabilities.models import Job
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _status(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def test_queued_job_is_refused_after_switch_off(alice, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 3})
    assert _status(job) == Job.Status.QUEUED
    # Switched off while the job waits in cap.ocr with no worker running.
    actions.set_capability_enabled(alice, acme, "ocr", enabled=False, reason="budget freeze")

    with celery_worker(queues="cap.ocr"):
        wait_for(lambda: _status(job) != Job.Status.QUEUED, 60, "the worker to pick the job up")

    job.refresh_from_db()
    assert job.status == Job.Status.REFUSED
    assert job.error_code == "capability_disabled"
    assert job.result is None
    assert job.started_at is None


def test_running_job_finishes_after_switch_off(alice, acme, tmp_path):
    release = tmp_path / "release"
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)

    with celery_worker(queues="cap.ocr"):
        job = actions.start_job(
            alice, acme, "ocr", kind="recognize", job_input={"pages": 2, "hold_until_exists": str(release)}
        )
        wait_for(lambda: _status(job) == Job.Status.RUNNING, 60, "the job to start")
        actions.set_capability_enabled(alice, acme, "ocr", enabled=False)
        release.touch()
        wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, 60, "the job to finish")

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.result == {"pages": 2, "text": "recognised"}
    assert (job.progress_done, job.progress_total) == (2, 2)


def test_jobs_of_one_capability_wait_for_a_worker_of_its_queue(alice, acme):
    """A worker for another queue leaves cap.ocr's jobs alone: each capability
    scales with workers of its own."""
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
    with celery_worker(queues="celery"):
        pass  # a worker that started, polled its own queue and stopped
    assert _status(job) == Job.Status.QUEUED
    with celery_worker(queues="cap.ocr"):
        wait_for(lambda: _status(job) == Job.Status.SUCCEEDED, 60, "the cap.ocr worker to run it")


def test_queued_job_of_a_suspended_organization_is_refused(alice, acme, ivan):
    from portal.actions.organizations import suspend_organization

    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
    suspend_organization(ivan, acme, reason="unpaid")
    with celery_worker(queues="cap.ocr"):
        wait_for(lambda: _status(job) != Job.Status.QUEUED, 60, "the worker to pick the job up")
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Job.Status.REFUSED, "organization_suspended")


def test_a_job_queued_on_stable_runs_on_stable_after_the_switch_to_beta(alice, acme):
    """Versions (issue 19): the job keeps the version it was queued with; the
    worker, a separate process, runs that version's function, and the next job
    runs the beta the organization switched to."""
    from capabilities import releases

    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    queued_on_stable = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
    releases.set_channel(alice, acme, "ocr", "beta")  # while the job waits, no worker running
    queued_on_beta = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})

    with celery_worker(queues="cap.ocr"):
        for job in (queued_on_stable, queued_on_beta):
            wait_for(lambda job=job: Job.objects.get(pk=job.pk).is_finished, 60, "both jobs to run")

    queued_on_stable.refresh_from_db()
    queued_on_beta.refresh_from_db()
    assert (queued_on_stable.status, queued_on_stable.version) == (Job.Status.SUCCEEDED, "1.0.0")
    assert queued_on_stable.result == {"pages": 1, "text": "recognised"}
    assert (queued_on_beta.status, queued_on_beta.version) == (Job.Status.SUCCEEDED, "2.0.0")
    assert queued_on_beta.result == {"pages": 1, "text": "recognised", "engine": "two-column"}
