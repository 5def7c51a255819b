"""JobContext.progress: written at once by default; with `every`, written at
most that often, and the job's result records the last total, so the bar of
a finished job is full even when a fast job wrote no progress at all."""

import pytest

from capabilities import actions
from capabilities.job_context import JobContext
from capabilities.models import Job
from capabilities.runner import _claim, _succeed

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(alice, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 4})
    claimed = _claim(job.pk, "lease-1", None)
    assert claimed is not None
    return claimed


def stored(job: Job) -> tuple[int, int]:
    job.refresh_from_db(fields=["progress_done", "progress_total"])
    return job.progress_done, job.progress_total


def test_progress_is_written_at_once_by_default(running):
    context = JobContext(job=running, input={})
    context.progress(1, 4)
    assert stored(running) == (1, 4)


def test_progress_with_every_waits_that_long_after_the_start_and_each_write(running):
    context = JobContext(job=running, input={})
    context.progress(0, 4, every=10)
    context.progress(1, 4, every=10)
    assert stored(running) == (0, 0)  # the job started less than 10 s ago

    context.progress_written -= 11  # as if 11 s had passed since the start
    context.progress(2, 4, every=10)
    assert stored(running) == (2, 4)

    context.progress(3, 4, every=10)  # less than 10 s after that write
    assert stored(running) == (2, 4)


def test_a_fast_jobs_result_fills_the_bar_it_never_wrote(running):
    context = JobContext(job=running, input={})
    for page in range(1, 5):
        context.progress(page, 4, every=10)
    assert stored(running) == (0, 0)

    outcome = _succeed(running, {"pages": 4}, {"pages": 4}, 0.1, progress_total=context.progress_total)

    assert outcome == Job.Status.SUCCEEDED
    assert stored(running) == (4, 4)


def test_a_result_never_lowers_a_total_already_written(running):
    JobContext(job=running, input={}).progress(3, 7)
    _succeed(running, {}, {}, 0.1)
    assert stored(running) == (7, 7)
