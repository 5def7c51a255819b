"""The job sweep and the lease, in this process at explicit moments: what is
sent again and when, what is taken back, what fails, and that a lease keeps a
second delivery (or a stale worker) away from a running job."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from capabilities import actions, health, queries, sweep
from capabilities.models import Job
from capabilities.runner import _claim, _execute, _succeed, renewer
from capabilities.signals import job_finished
from metering.models import UsageEvent

pytestmark = pytest.mark.django_db

GRACE = 30
LEASE = 60


@pytest.fixture(autouse=True)
def job_settings(settings):
    settings.JOB_REQUEUE_GRACE = GRACE
    settings.JOB_LEASE_SECONDS = LEASE
    settings.JOB_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture
def sent(monkeypatch):
    """The messages the sweep sends, instead of the broker."""
    from capabilities.runner import run_job

    messages = []
    monkeypatch.setattr(run_job, "apply_async", lambda **message: messages.append(message))
    return messages


@pytest.fixture
def job(alice, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    return actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})


def _job(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def _claimed(job: Job, token: str, *, at, monkeypatch, previous: str | None = None) -> Job | None:
    with monkeypatch.context() as moment:
        moment.setattr(timezone, "now", lambda: at)
        return _claim(job.pk, token, previous)


def test_a_queued_job_is_sent_again_past_its_grace_then_after_twice_as_long(job, sent):
    start = job.lease_expires_at - timedelta(seconds=GRACE)
    assert sweep.sweep_jobs(start + timedelta(seconds=GRACE - 1)).republished == 0
    assert sent == []

    result = sweep.sweep_jobs(start + timedelta(seconds=GRACE + 1))
    assert (result.republished, result.requeued, result.failed) == (1, 0, 0)
    assert sent == [{"args": [job.pk], "queue": "cap.ocr", "task_id": job.celery_task_id}]
    first = start + timedelta(seconds=GRACE + 1)
    assert (_job(job).lease_expires_at, _job(job).publications) == (first + timedelta(seconds=2 * GRACE), 2)

    # Not again within twice the grace: a backlog is not flooded with copies.
    assert sweep.sweep_jobs(first + timedelta(seconds=2 * GRACE - 1)).republished == 0
    assert sweep.sweep_jobs(first + timedelta(seconds=2 * GRACE + 1)).republished == 1
    assert len(sent) == 2 and _job(job).status == Job.Status.QUEUED


def test_a_job_queued_before_leases_existed_is_sent_at_the_first_sweep(job, sent):
    Job.objects.filter(pk=job.pk).update(lease_expires_at=None)
    assert sweep.sweep_jobs(timezone.now()).republished == 1


def test_finished_and_cancelled_jobs_are_never_swept(job, alice, sent):
    actions.cancel_job(alice, job)
    result = sweep.sweep_jobs(timezone.now() + timedelta(days=1))
    assert (result.failed, result.requeued, result.republished) == (0, 0, 0)
    assert sent == [] and _job(job).status == Job.Status.CANCELLED


def test_a_running_job_is_left_alone_while_its_lease_lives_and_taken_back_after(job, sent, monkeypatch):
    now = timezone.now()
    assert _claimed(job, "a" * 32, at=now, monkeypatch=monkeypatch) is not None
    assert _job(job).lease_expires_at == now + timedelta(seconds=LEASE)

    assert sweep.sweep_jobs(now + timedelta(seconds=LEASE - 1)).requeued == 0
    assert _job(job).status == Job.Status.RUNNING and sent == []

    result = sweep.sweep_jobs(now + timedelta(seconds=LEASE + 1))
    assert (result.requeued, result.republished) == (1, 0)
    job = _job(job)
    assert (job.status, job.attempts, job.lease_token) == (Job.Status.QUEUED, 1, "")
    assert job.lease_expires_at == now + timedelta(seconds=LEASE + 1 + GRACE)
    assert len(sent) == 1


def test_a_second_delivery_cannot_take_a_running_job_whose_lease_lives(job, monkeypatch):
    now = timezone.now()
    assert _claimed(job, "a" * 32, at=now, monkeypatch=monkeypatch) is not None
    # The broker delivers the message again (a duplicate, or a restore).
    assert _claimed(job, "b" * 32, at=now + timedelta(seconds=LEASE - 1), monkeypatch=monkeypatch) is None
    assert (_job(job).lease_token, _job(job).attempts) == ("a" * 32, 1)
    # This task's own retry takes it again under a new lease.
    again = _claimed(job, "c" * 32, at=now + timedelta(seconds=1), monkeypatch=monkeypatch, previous="a" * 32)
    assert again is not None and (again.lease_token, again.attempts) == ("c" * 32, 2)
    # After the lease, the worker is taken for dead: a delivery takes the job.
    later = now + timedelta(seconds=LEASE + 2)
    taken = _claimed(job, "d" * 32, at=later, monkeypatch=monkeypatch)
    assert taken is not None and (taken.lease_token, taken.attempts) == ("d" * 32, 3)


def test_a_job_out_of_attempts_is_not_claimed_again_but_failed_by_the_sweep(job, sent, monkeypatch):
    announced = []

    def receiver(sender, **kwargs):
        announced.append(kwargs)

    job_finished.connect(receiver, weak=False)
    try:
        now = timezone.now()
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.RUNNING, attempts=3, lease_token="x" * 32, lease_expires_at=now
        )
        assert _claimed(job, "y" * 32, at=now + timedelta(seconds=1), monkeypatch=monkeypatch) is None

        result = sweep.sweep_jobs(now + timedelta(seconds=1))
    finally:
        job_finished.disconnect(receiver)
    assert (result.failed, result.requeued, result.republished) == (1, 0, 0)
    job = _job(job)
    assert (job.status, job.error_code) == (Job.Status.FAILED, "worker_lost")
    assert job.error == "The job stopped its worker 3 times; it was not billed."
    assert sent == [] and not UsageEvent.objects.filter(job_id=job.pk).exists()
    assert [(event["job_id"], event["status"]) for event in announced] == [(job.pk, Job.Status.FAILED)]


def test_a_worker_whose_lease_was_taken_back_records_nothing(job, sent, monkeypatch):
    """A worker that stalled past its lease finishes after another took the job:
    its result and usage are refused; the holder's count once."""
    now = timezone.now()
    stale = _claimed(job, "a" * 32, at=now, monkeypatch=monkeypatch)
    sweep.sweep_jobs(now + timedelta(seconds=LEASE + 1))
    holder = _claimed(job, "b" * 32, at=now + timedelta(seconds=LEASE + 2), monkeypatch=monkeypatch)
    assert stale is not None and holder is not None

    assert _succeed(stale, {"pages": 2}, {"pages": 2}, 0.5) == "already finished"
    assert not UsageEvent.objects.filter(job_id=job.pk).exists()
    assert _execute(holder) == Job.Status.SUCCEEDED
    assert UsageEvent.objects.filter(job_id=job.pk, meter="pages").count() == 1


def test_the_renewal_extends_only_the_holders_lease(job, monkeypatch):
    now = timezone.now()
    _claimed(job, "a" * 32, at=now, monkeypatch=monkeypatch)
    renewer().renew([(job.pk, "b" * 32)])  # not the holder: nothing
    assert _job(job).lease_expires_at == now + timedelta(seconds=LEASE)
    renewer().renew([(job.pk, "a" * 32)])
    assert _job(job).lease_expires_at > now + timedelta(seconds=LEASE)


def test_the_health_page_counts_stranded_and_retried_jobs(job, alice, acme, sent, monkeypatch):
    now = timezone.now()
    running = actions.start_job(alice, acme, "ocr", kind="recognize")
    retried = actions.start_job(alice, acme, "ocr", kind="recognize")
    Job.objects.filter(pk=running.pk).update(
        status=Job.Status.RUNNING, attempts=1, lease_expires_at=now - timedelta(seconds=1)
    )
    Job.objects.filter(pk=retried.pk).update(
        status=Job.Status.FAILED, attempts=3, error_code="worker_lost", lease_expires_at=None
    )
    later = now + timedelta(seconds=GRACE + 1)
    assert queries.job_health(later) == queries.JobHealth(
        waiting=1,
        oldest_waiting=_job(job).queued_at,
        abandoned=1,
        retried=1,
        worker_lost=1,
        retried_unfinished=0,
    )
    assert queries.job_health(now - timedelta(seconds=2)).abandoned == 0

    cache.delete(sweep.SWEEP_LAST_RUN)
    assert health.sweep_item(now).value == "Never"
    sweep.sweep_jobs(now)
    item = health.sweep_item(now + timedelta(seconds=5))
    assert (item.value, item.status) == ("Under a minute ago", "ok")
    assert "1 taken back" in item.note
    late = health.sweep_item(now + timedelta(minutes=10))
    assert (late.value, late.status) == ("10\xa0minutes ago", "bad")

    section = health.jobs_section()
    assert [item.label for item in section.items] == [
        "Last sweep",
        "Queued past their grace",
        "Running on a dead worker",
        "Jobs retried (24 hours)",
    ]
