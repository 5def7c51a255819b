"""The budget rule with real workers: eight worker processes racing through
forty queued jobs against a stop budget. The spend ends at or above the
budget, and above it by at most what the jobs already running when it was
reached cost (eight workers: eight jobs); every job left is refused with
`budget_exhausted` and bills nothing; the 100 % alert goes once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from capabilities import actions as capability_actions
from capabilities.gate import budget_stop, forget_snapshots
from capabilities.models import Job
from metering import actions
from metering.models import Budget, UsageEvent
from portal.models import Alert
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKERS = 8
JOBS = 40
PAGES = 5  # $0.05 a job at $0.01 a page
JOB_COST = Decimal("0.05")
AMOUNT = Decimal("0.50")  # ten jobs' worth


def test_eight_workers_racing_a_stop_budget_overshoot_by_at_most_the_running_jobs(alice, acme):
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    budget = actions.save_budget(alice, acme, capability="ocr", amount=AMOUNT, thresholds=[50, 100])
    jobs = [
        capability_actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": PAGES})
        for _ in range(JOBS)
    ]
    ids = [job.pk for job in jobs]

    with celery_worker(queues="cap.ocr", pool="prefork", concurrency=WORKERS, timeout=180):
        wait_for(
            lambda: (
                not Job.objects.filter(
                    pk__in=ids, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
                ).exists()
            ),
            300,
            "every job to run or be refused",
        )

    succeeded = Job.objects.filter(pk__in=ids, status=Job.Status.SUCCEEDED)
    refused = Job.objects.filter(pk__in=ids, status=Job.Status.REFUSED)
    assert succeeded.count() + refused.count() == JOBS
    spent = JOB_COST * succeeded.count()
    # The ledger bills exactly the jobs that ran, and the counter agrees with it.
    pages = UsageEvent.objects.filter(organization=acme, meter="pages").aggregate(total=Sum("quantity"))[
        "total"
    ]
    assert pages == PAGES * succeeded.count()
    assert set(UsageEvent.objects.filter(organization=acme).values_list("job_id", flat=True)) == set(
        succeeded.values_list("pk", flat=True)
    )
    budget.refresh_from_db()
    assert budget.spent == spent
    # The bound: reached, and exceeded by at most the jobs that were running.
    assert AMOUNT <= spent <= AMOUNT + WORKERS * JOB_COST
    assert refused.count() >= JOBS - (AMOUNT + WORKERS * JOB_COST) / JOB_COST
    assert set(refused.values_list("error_code", flat=True)) == {"budget_exhausted"}
    assert not refused.exclude(started_at=None).exists()
    # Stopped for new work, and told once at each threshold however many crossed it.
    forget_snapshots()
    assert budget_stop(acme, "ocr") is not None
    assert sorted(Alert.objects.filter(organization=acme).values_list("data__threshold", flat=True)) == [
        50,
        100,
    ]
    assert Budget.objects.get(pk=budget.pk).jobs_charged == succeeded.count()
