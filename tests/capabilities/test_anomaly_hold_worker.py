"""Hold on anomaly with a real worker on the capability's queue: a held job
is not run; released, it runs and is billed once."""

import pytest

from capabilities import actions
from capabilities.models import Job
from metering import actions as metering_actions
from metering.models import UsageEvent
from tests.metering.anomaly_data import plant_spike
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_held_job_runs_after_release(alice, acme, gina, globex):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    actions.set_capability_enabled(gina, globex, "ocr", enabled=True)
    metering_actions.set_hold_on_anomaly(alice, acme, "ocr", enabled=True)
    plant_spike(acme)
    held = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 3})
    assert held.status == Job.Status.HELD

    with celery_worker(queues="cap.ocr"):
        # A stray message for the held job (say, an operator's replay), then
        # another organization's job: one solo worker takes them in order, so
        # once globex's job is done the held one's message was handled: skipped.
        actions.publish_job(held.pk, "cap.ocr", held.celery_task_id)
        other = actions.start_job(gina, globex, "ocr", kind="noop")
        wait_for(lambda: Job.objects.get(pk=other.pk).is_finished, 60, "globex's job to finish")
        assert Job.objects.get(pk=held.pk).status == Job.Status.HELD

        assert actions.release_held_jobs(alice, acme, "ocr") == 1
        wait_for(lambda: Job.objects.get(pk=held.pk).is_finished, 60, "the released job to finish")

    held.refresh_from_db()
    assert held.status == Job.Status.SUCCEEDED
    assert held.result == {"pages": 3, "text": "recognised"}
    assert UsageEvent.objects.filter(job_id=held.pk, meter="pages").get().quantity == 3
