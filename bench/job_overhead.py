"""Throughput of a no-op metered job through the whole path (toggle check, Job
row, enqueue on cap.<key>, claim re-reading the toggle, usage events and rollup
in the result's transaction) against a bare no-op Celery task on the same
broker and the same worker, side by side in alternating runs.
Target: at least half the bare task's throughput."""

from __future__ import annotations

import time
import uuid
from typing import Any

JOBS = 600
RUNS = 3
# Jobs come from this many organizations in turn, as on a shared portal. A
# single organization's jobs all add to the same rollup rows, whose row locks
# then serialize the workers' commits; that case is measured too.
ORGANIZATIONS = 10


def run() -> dict[str, Any]:
    import redis
    from django.conf import settings

    from bench.fixtures import bench_organization
    from bench.harness import median, wait_until, write_result
    from capabilities import actions, is_enabled
    from capabilities.models import Job
    from portal.models import Membership, Organization, Role
    from tests.capability_apps.ocr.tasks import bare_noop
    from tests.workers import celery_worker

    organization, owner = bench_organization()
    tenants = [organization]
    for n in range(1, ORGANIZATIONS):
        tenant, _ = Organization.objects.get_or_create(slug=f"bench-{n}", defaults={"name": f"Bench Org {n}"})
        Membership.objects.get_or_create(user=owner, organization=tenant, defaults={"role": Role.OWNER})
        tenants.append(tenant)
    for tenant in tenants:
        if not is_enabled(tenant, "ocr"):
            actions.set_capability_enabled(owner, tenant, "ocr", enabled=True, reason="benchmark")
    counter = redis.Redis.from_url(settings.REDIS_URL)

    def metered_run(organizations: list[Any]) -> float:
        start = time.perf_counter()
        ids = [
            actions.start_job(owner, organizations[n % len(organizations)], "ocr", kind="noop").pk
            for n in range(JOBS)
        ]
        wait_until(
            lambda: Job.objects.filter(pk__in=ids, status=Job.Status.SUCCEEDED).count() >= JOBS,
            "the metered jobs",
        )
        return JOBS / (time.perf_counter() - start)

    ours: list[float] = []
    single: list[float] = []
    bare: list[float] = []
    # Production settings: pooled database connections in the worker.
    with celery_worker(queues="celery,cap.ocr", pool="prefork", concurrency=2, env={"DATABASE_POOL": "true"}):
        for _ in range(RUNS):
            key = f"bench:bare:{uuid.uuid4().hex}"
            start = time.perf_counter()
            for _ in range(JOBS):
                bare_noop.apply_async(args=[key], queue="celery")
            wait_until(lambda: int(counter.get(key) or 0) >= JOBS, "the bare tasks")  # noqa: B023
            bare.append(JOBS / (time.perf_counter() - start))
            counter.delete(key)

            ours.append(metered_run(tenants))
            single.append(metered_run([organization]))

    return write_result(
        "job_overhead",
        metric="no-op jobs completed per second, enqueue to done",
        unit="jobs/s",
        ours=median(ours),
        baseline=median(bare),
        baseline_name="bare no-op Celery task (one Redis INCR) on the same broker and worker",
        higher_is_better=True,
        target="ratio >= 0.5",
        runs=RUNS,
        jobs_per_run=JOBS,
        organizations=ORGANIZATIONS,
        single_organization_jobs_per_s=round(median(single), 1),
        single_organization_ratio=round(median(single) / median(bare), 2),
        worker="celery prefork, concurrency 2, queues celery + cap.ocr",
        ours_runs=[round(value, 1) for value in ours],
        baseline_runs=[round(value, 1) for value in bare],
        meets_target=median(ours) / median(bare) >= 0.5,
    )
