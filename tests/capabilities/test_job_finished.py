"""`job_finished` is sent once a job's outcome has committed (succeeded or
failed), once per job, never for a job another delivery already finished.
The runner is called in this process so a receiver can listen."""

import pytest

from capabilities import actions
from capabilities.models import Job
from capabilities.runner import _run
from capabilities.signals import job_finished

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    events = []

    def receiver(sender, **kwargs):
        status = Job.objects.get(pk=kwargs["job_id"]).status
        events.append({**kwargs, "status_in_database": status})

    job_finished.connect(receiver, weak=False)
    yield events
    job_finished.disconnect(receiver)


def test_success_and_failure_are_announced_once(heard, alice, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    ok = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})
    bad = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1, "fail": True})

    assert _run(ok.pk) == Job.Status.SUCCEEDED
    assert _run(bad.pk) == Job.Status.FAILED
    assert _run(ok.pk) == "skipped"  # a second delivery of a finished job: nothing announced

    assert [(event["job_id"], event["status"]) for event in heard] == [
        (ok.pk, Job.Status.SUCCEEDED),
        (bad.pk, Job.Status.FAILED),
    ]
    assert all(event["status"] == event["status_in_database"] for event in heard)
    assert heard[0]["capability"] == "ocr" and heard[0]["kind"] == "recognize"
    assert heard[0]["organization_id"] == acme.pk


def test_a_failing_receiver_does_not_fail_the_job(alice, acme):
    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    job_finished.connect(broken, weak=False)
    try:
        actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
        job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
        assert _run(job.pk) == Job.Status.SUCCEEDED
    finally:
        job_finished.disconnect(broken)
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


def test_a_refused_job_is_announced_after_the_refusal_commits(
    heard, alice, acme, django_capture_on_commit_callbacks
):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
    actions.set_capability_enabled(alice, acme, "ocr", enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert _run(job.pk) == "skipped"
    assert [(event["job_id"], event["status"], event["status_in_database"]) for event in heard] == [
        (job.pk, Job.Status.REFUSED, Job.Status.REFUSED)
    ]
