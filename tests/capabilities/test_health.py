"""The jobs' part of the IT admin health page: stranded jobs, jobs retried in
the last 24 hours, and the sweep's last run, as Ivan sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from capabilities import actions, sweep
from capabilities.models import Job
from tests.portal.health_page import health_section, item

pytestmark = pytest.mark.django_db


def jobs_health(client) -> str:
    return health_section(client, "Jobs: queues and workers")


def test_ivan_sees_stranded_and_retried_jobs_and_the_last_sweep(client_for, ivan, alice, acme, monkeypatch):
    from capabilities.runner import run_job

    monkeypatch.setattr(run_job, "apply_async", lambda **message: None)
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    lost, dead, dying = (actions.start_job(alice, acme, "ocr", kind="recognize") for _ in range(3))
    past = timezone.now() - timedelta(seconds=1)
    Job.objects.filter(pk=lost.pk).update(lease_expires_at=past)
    Job.objects.filter(pk=dead.pk).update(status=Job.Status.RUNNING, attempts=2, lease_expires_at=past)
    Job.objects.filter(pk=dying.pk).update(
        status=Job.Status.FAILED, attempts=3, error_code="worker_lost", lease_expires_at=None
    )
    cache.delete(sweep.SWEEP_LAST_RUN)

    section = jobs_health(client_for(ivan))
    assert '<span class="badge badge-bad">Never</span>' in item(section, "Last sweep")
    assert '<span class="badge badge-warn">1</span>' in item(section, "Queued past their grace")
    assert '<span class="badge badge-warn">1</span>' in item(section, "Running on a dead worker")
    retried = item(section, "Jobs retried (24 hours)")
    assert '<span class="badge badge-bad">2</span>' in retried
    assert "Failed, unbilled, after stopping their worker 3 times: 1. Not finished yet: 1." in retried

    sweep.sweep_jobs()
    section = jobs_health(client_for(ivan))
    last = item(section, "Last sweep")
    assert '<span class="badge badge-ok">Under a minute ago</span>' in last
    assert "0 failed, 1 taken back, 1 sent again." in last
    assert '<span class="badge badge-ok">0</span>' in item(section, "Running on a dead worker")
