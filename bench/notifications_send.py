"""Webhook messages delivered per second through the whole path (a test send:
Delivery row and deliver job queued, the runner's claim re-reading the toggle,
the signed POST to a local HTTP server, the attempt recorded, one `webhooks`
unit metered in the job's result transaction) against the bare library:
requests posting the same signed payloads to the same server in a loop.
Both sides are timed from the first message queued (or posted) to the last
answered and recorded. Target: three tenths of the bare loop's rate (issue 20; a tenth
before it). `queue_seconds` is how long the benchmark's own loop took to queue each
run's messages (one test send at a time, each its own transaction and message):
when it is close to the whole run, the workers keep up and the queuing bounds the rate."""

from __future__ import annotations

import time
from typing import Any

MESSAGES = 300
RUNS = 3


def run() -> dict[str, Any]:
    import requests

    from bench.fixtures import bench_organization
    from bench.harness import Busy, cpu_summary, machine_busy, median, wait_until, write_result
    from capabilities import actions as capability_actions
    from capabilities import is_enabled
    from capabilities.capability_settings import capability_setting
    from capabilities.notifications import actions, channels
    from capabilities.notifications.models import Delivery, Rule
    from tests.capabilities.notifications.receiver import webhook_receiver
    from tests.workers import celery_worker

    organization, owner = bench_organization()
    if not is_enabled(organization, "notifications"):
        capability_actions.set_capability_enabled(owner, organization, "notifications", enabled=True)

    ours: list[float] = []
    bare: list[float] = []
    queued: list[float] = []
    ours_busy: list[Busy] = []
    bare_busy: list[Busy] = []
    with (
        webhook_receiver([200]) as receiver,
        celery_worker(
            queues="cap.notifications", pool="prefork", concurrency=2, env={"DATABASE_POOL": "true"}
        ),
    ):
        Rule.objects.filter(organization=organization).delete()
        rule = actions.create_rule(
            owner, organization, capability="ocr", event="both", channel="webhook", target=receiver.url
        )
        session = requests.Session()
        timeout = (
            capability_setting("notifications", "CONNECT_TIMEOUT"),
            capability_setting("notifications", "READ_TIMEOUT"),
        )
        payload = actions._test_payload(organization, rule)
        for _ in range(RUNS):
            # The bare library: sign and post the same payload, check the answer.
            with machine_busy(bare_busy):
                start = time.perf_counter()
                for n in range(MESSAGES):
                    body = channels.encode({**payload, "delivery": n})
                    signature = channels.signature_header(rule.secret, int(time.time()), body)
                    headers = {
                        "Content-Type": "application/json",
                        channels.SIGNATURE_HEADER: signature,
                        channels.DELIVERY_HEADER: str(n),
                        channels.EVENT_HEADER: "test",
                    }
                    response = session.post(receiver.url, data=body, headers=headers, timeout=timeout)
                    assert response.status_code == 200
                bare.append(MESSAGES / (time.perf_counter() - start))

            with machine_busy(ours_busy):
                start = time.perf_counter()
                ids = [actions.send_test(owner, rule).pk for _ in range(MESSAGES)]
                queued.append(time.perf_counter() - start)
                wait_until(
                    lambda: (
                        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.DELIVERED).count()  # noqa: B023
                        >= MESSAGES
                    ),
                    "the deliveries",
                )
                ours.append(MESSAGES / (time.perf_counter() - start))
        # The rule fires on every job of Text recognition: left behind, it would
        # make the other benchmarks' jobs of this organization send messages.
        rule.delete()

    return write_result(
        "notifications_send",
        metric="signed webhook messages delivered per second, queued to recorded and metered",
        unit="messages/s",
        ours=median(ours),
        baseline=median(bare),
        baseline_name="requests.Session posting the same signed payloads to the same local server in a loop",
        higher_is_better=True,
        target="ratio >= 0.3",
        runs=RUNS,
        messages_per_run=MESSAGES,
        worker="celery prefork, concurrency 2, queue cap.notifications; baseline: one loop, one process",
        ours_runs=[round(value, 1) for value in ours],
        baseline_runs=[round(value, 1) for value in bare],
        meets_target=median(ours) / median(bare) >= 0.3,
        queue_seconds=[round(value, 3) for value in queued],
        **cpu_summary(ours_busy, bare_busy, MESSAGES),
    )
