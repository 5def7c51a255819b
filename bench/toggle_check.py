"""Cost of one "is this capability on?" check, warm, against django-waffle's
`flag_is_active` on a LocMem cache and on Redis, side by side in one run.
Target: at most 1 µs median and at least 50x faster than waffle on LocMem."""

from __future__ import annotations

from typing import Any

CALLS = 20_000
BASELINE_CALLS = 2_000
BATCHES = 31


def run() -> dict[str, Any]:
    from django.contrib.auth.models import AnonymousUser
    from django.core.cache import caches
    from django.db import connection
    from django.test import RequestFactory, override_settings
    from django.test.utils import CaptureQueriesContext
    from waffle import flag_is_active
    from waffle.models import Flag

    from bench.fixtures import bench_organization
    from bench.harness import median, per_call_ns, write_result
    from capabilities import is_enabled
    from capabilities.actions import set_capability_enabled
    from capabilities.gate import forget_snapshots

    organization, owner = bench_organization()
    if not is_enabled(organization, "ocr"):
        set_capability_enabled(owner, organization, "ocr", enabled=True, reason="benchmark")
    forget_snapshots()
    assert is_enabled(organization, "ocr")

    with CaptureQueriesContext(connection) as queries:
        for _ in range(1000):
            is_enabled(organization, "ocr")
    warm_queries = len(queries)

    ours = per_call_ns(lambda: is_enabled(organization, "ocr"), calls=CALLS, batches=BATCHES)

    Flag.objects.update_or_create(name="ocr", defaults={"everyone": True})
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    baselines = {}
    for alias in ("locmem", "default"):
        with override_settings(WAFFLE_CACHE_NAME=alias):
            caches[alias].clear()
            assert flag_is_active(request, "ocr")
            baselines[alias] = per_call_ns(
                lambda: flag_is_active(request, "ocr"), calls=BASELINE_CALLS, batches=BATCHES
            )

    ours_us = median(ours) / 1000
    locmem_us = median(baselines["locmem"]) / 1000
    redis_us = median(baselines["default"]) / 1000
    return write_result(
        "toggle_check",
        metric="median cost of one warm toggle check",
        unit="µs",
        ours=ours_us,
        baseline=locmem_us,
        baseline_name="django-waffle flag_is_active, LocMem cache",
        higher_is_better=False,
        target="ours <= 1 µs and ratio >= 50",
        runs=BATCHES,
        calls_per_run=CALLS,
        baseline_calls_per_run=BASELINE_CALLS,
        waffle_redis_us=round(redis_us, 4),
        ratio_vs_waffle_redis=round(redis_us / ours_us, 1),
        database_queries_per_1000_warm_checks=warm_queries,
        meets_target=ours_us <= 1 and locmem_us / ours_us >= 50,
    )
