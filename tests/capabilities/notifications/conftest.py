"""Fixtures of the notifications tests: acme with notifications and ocr on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from capabilities.actions import set_capability_enabled
from capabilities.gate import forget_snapshots
from capabilities.models import Job
from capabilities.runner import _run, run_job
from metering.models import UsageEvent
from portal.models import Organization


@pytest.fixture
def acme_on(alice, acme) -> Organization:
    set_capability_enabled(alice, acme, "notifications", enabled=True)
    set_capability_enabled(alice, acme, "ocr", enabled=True)
    return acme


@pytest.fixture(autouse=True)
def _short_timeouts(capability_settings):
    capability_settings(
        "notifications", CONNECT_TIMEOUT=1.0, READ_TIMEOUT=0.5, RETRY_DELAYS=[30, 120, 600, 3600]
    )


@pytest.fixture
def run_queued(monkeypatch, django_capture_on_commit_callbacks) -> Callable[[], list[str]]:
    """Run every queued job in this process (as the worker would), oldest
    first, until none is left; returns their outcomes. What the jobs defer to
    after commit runs (retries are scheduled so), except sending jobs to the
    broker: they run here."""
    monkeypatch.setattr(run_job, "apply_async", lambda *args, **kwargs: None)

    def run() -> list[str]:
        outcomes = []
        while True:
            job = Job.objects.filter(status=Job.Status.QUEUED).order_by("pk").first()
            if job is None:
                return outcomes
            with django_capture_on_commit_callbacks(execute=True):
                outcomes.append(f"{job.capability}.{job.kind}:{_run(job.pk)}")

    return run


def switch_off(user, organization: Organization, key: str) -> None:
    """Switch a capability off; this process forgets its toggle snapshot at
    once (what the commit's version bump does for other processes)."""
    set_capability_enabled(user, organization, key, enabled=False)
    forget_snapshots()


def billed(organization: Organization, meter: str) -> int:
    return sum(
        UsageEvent.objects.filter(
            organization=organization, capability="notifications", meter=meter
        ).values_list("quantity", flat=True)
    )
