"""Cost of counting an API call: the same metered capability endpoint, called
with an organization API key, with the metering middleware in place and
without it, alternating batch by batch in one run (so the machine's drift hits both
sides alike). Target: metering keeps at least 0.95 of
the unmetered request rate (it adds at most about 5 %).

The requests go through Django's whole request path in this process (the test
client's WSGI handler, every middleware, DRF, the API-key check and the
capability gate), so what differs between the two sides is only the counting.
The API-call counts are written to the ledger after the measured calls (the
flush is not on the request path)."""

from __future__ import annotations

import time
from typing import Any

PATH = "/api/v1/c/summaries/count/"
CALLS = 50
RUNS = 41
METERING = "metering.middleware.ApiCallMeteringMiddleware"


def run() -> dict[str, Any]:
    from django.conf import settings
    from django.test import Client, override_settings

    from bench.fixtures import bench_organization
    from bench.harness import median, per_call_ns, write_result
    from capabilities import is_enabled
    from capabilities.actions import set_capability_enabled
    from capabilities.gate import forget_snapshots
    from metering import api_calls
    from portal.actions.api_keys import create_api_key

    organization, owner = bench_organization()
    if not is_enabled(organization, "summaries"):
        set_capability_enabled(
            owner, organization, "summaries", enabled=True, include_related=True, reason="benchmark"
        )
    forget_snapshots()
    _, secret = create_api_key(owner, organization, name="api-call benchmark", scope="manage")
    client = Client(headers={"Authorization": f"Api-Key {secret}"})
    unmetered = [name for name in settings.MIDDLEWARE if name != METERING]
    assert len(unmetered) == len(settings.MIDDLEWARE) - 1, "the metering middleware is not installed"

    def rate() -> float:
        start = time.perf_counter()
        for _ in range(CALLS):
            response = client.get(PATH)
            assert response.status_code == 200, response.content
            response.close()
        return CALLS / (time.perf_counter() - start)

    rate()  # warm up: the key's check, the toggle snapshot, the URL resolver
    metered, bare = [], []
    for _ in range(RUNS):
        metered.append(rate())
        with override_settings(MIDDLEWARE=unmetered):
            bare.append(rate())
    # The part of it on the request path, alone.
    count_ns = per_call_ns(
        lambda: api_calls.count_call(organization.pk, "summaries"), calls=2_000, batches=11
    )
    counted = api_calls.flush()  # the counts reach the ledger, outside the measured calls

    ours, baseline = median(metered), median(bare)
    return write_result(
        "api_call_metering",
        metric="keyed requests/s to a metered capability endpoint, counted as API calls",
        unit="requests/s",
        ours=ours,
        baseline=baseline,
        baseline_name="the same requests with the metering middleware removed",
        higher_is_better=True,
        target="ratio >= 0.95",
        runs=RUNS,
        calls_per_run=CALLS,
        metered_runs=[round(value, 1) for value in metered],
        unmetered_runs=[round(value, 1) for value in bare],
        added_us_per_request=round((1 / ours - 1 / baseline) * 1e6, 1),
        count_call_us=round(median(count_ns) / 1000, 2),
        calls_counted_in_ledger=counted,
        meets_target=ours / baseline >= 0.95,
    )
