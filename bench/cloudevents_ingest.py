"""Usage events recorded per second through `POST /api/v1/events` (batches of
1,000 CloudEvents, `application/cloudevents-batch+json`, organization API keys)
on a real server (gunicorn, threaded workers, HTTP keep-alive, on loopback),
side by side with `metering.ledger.ingest` of the same number of events in
calls of 1,000, in one run, in alternating order.

Both sides write the same tables of the benchmark database (the ledger refuses
DELETE, so every run's events carry keys of their own), spread over the same
organizations and the last two days' hours, so both pay the same index and
rollup costs. The HTTP side is measured with CLIENTS connections at once (a
fleet of services reporting) and with one (like for like with the one
connection of `ingest`). Targets: at least 10,000 events/s through HTTP, and at
least half of the bulk ingest's rate.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000
BATCHES = 60  # per measured run: 60,000 events
RUNS = 3
ORGANIZATIONS = 4
HOURS = 48
CLIENTS = 4
WORKERS = 2  # gunicorn processes (this machine's cores)
THREADS = 4  # threads per worker
PATH = "/api/v1/events"
BATCH_TYPE = "application/cloudevents-batch+json"


def run() -> dict[str, Any]:
    from django.utils import timezone

    from bench.harness import write_result
    from capabilities import actions
    from metering import ledger
    from portal.actions.api_keys import create_api_key
    from portal.models import Membership, Organization, Role, User

    owner, _ = User.objects.get_or_create(email="owner@bench.test", defaults={"full_name": "Bench Owner"})
    organizations = []
    secrets = []
    for n in range(1, ORGANIZATIONS + 1):
        organization, _ = Organization.objects.get_or_create(
            slug=f"bench-ce-{n:02d}", defaults={"name": f"CloudEvents Bench {n}"}
        )
        Membership.objects.get_or_create(user=owner, organization=organization, defaults={"role": Role.OWNER})
        actions.set_capability_enabled(owner, organization, "ocr", enabled=True, reason="benchmark")
        _key, secret = create_api_key(owner, organization, name=f"bench {uuid.uuid4().hex[:6]}", scope="use")
        organizations.append(organization)
        secrets.append(secret)

    def events(prefix: str, count: int) -> list[tuple[int, dict[str, Any]]]:
        """(organization index, event) pairs: random quantities, hours and organizations."""
        rng = random.Random(prefix)
        now = timezone.now()
        return [
            (
                rng.randrange(ORGANIZATIONS),
                {
                    "specversion": "1.0",
                    "id": f"{prefix}-{n}",
                    "source": "https://ocr.bench.test/workers/1",
                    "type": "ocr.pages",
                    "time": (now - timedelta(seconds=rng.randrange(HOURS * 3600))).isoformat(),
                    "datacontenttype": "application/json",
                    "data": {"quantity": rng.randint(1, 50)},
                },
            )
            for n in range(count)
        ]

    def bodies(prefix: str) -> list[tuple[str, bytes]]:
        """BATCHES request bodies, each of one organization's events."""
        found = []
        for index in range(BATCHES):
            organization = index % ORGANIZATIONS
            batch = [event for _, event in events(f"{prefix}-{index}", BATCH)]
            found.append((secrets[organization], json.dumps(batch).encode()))
        return found

    def records(prefix: str) -> list[ledger.UsageRecord]:
        from capabilities.usage_events import idempotency_key

        found = []
        for index in range(BATCHES):
            for _, event in events(f"{prefix}-{index}", BATCH):
                found.append(
                    ledger.UsageRecord(
                        organization_id=organizations[index % ORGANIZATIONS].pk,
                        capability="ocr",
                        meter="pages",
                        quantity=event["data"]["quantity"],
                        occurred_at=datetime.fromisoformat(event["time"]),
                        idempotency_key=idempotency_key(event["source"], event["id"]),
                        properties={"cloudevent": {"source": event["source"], "id": event["id"]}},
                    )
                )
        return found

    def bulk(batch: list[ledger.UsageRecord]) -> float:
        start = time.perf_counter()
        recorded = 0
        for offset in range(0, len(batch), BATCH):
            recorded += ledger.ingest(batch[offset : offset + BATCH])
        elapsed = time.perf_counter() - start
        assert recorded == len(batch), (recorded, len(batch))
        return len(batch) / elapsed

    load_before = os.getloadavg()[0]
    rates: dict[str, list[float]] = {"http": [], "http_one_connection": [], "ingest": []}
    with Server() as server:
        server.post_all(bodies(f"warm-{uuid.uuid4().hex[:8]}")[: CLIENTS * 2], CLIENTS)
        bulk(records(f"warm-{uuid.uuid4().hex[:8]}")[: BATCH * 4])
        for n in range(RUNS):
            tag = uuid.uuid4().hex[:8]
            prepared = {
                "http": bodies(f"http-{tag}"),
                "http_one_connection": bodies(f"one-{tag}"),
            }
            bulk_records = records(f"ingest-{tag}")
            sides = ["http", "http_one_connection", "ingest"]
            for side in sides if n % 2 == 0 else reversed(sides):
                if side == "ingest":
                    rates[side].append(bulk(bulk_records))
                else:
                    clients = CLIENTS if side == "http" else 1
                    rates[side].append(server.post_all(prepared[side], clients))

    ours = statistics.median(rates["http"])
    one = statistics.median(rates["http_one_connection"])
    baseline = statistics.median(rates["ingest"])
    return write_result(
        "cloudevents_ingest",
        metric="usage events recorded per second through POST /api/v1/events in batches of 1,000 (median)",
        unit="events/s",
        ours=ours,
        baseline=baseline,
        baseline_name="metering.ledger.ingest of as many events, in calls of 1,000, one connection",
        higher_is_better=True,
        target="≥ 10,000 events/s and ≥ 0.5 of the bulk ingest",
        runs=RUNS,
        events_per_run=BATCH * BATCHES,
        batch=BATCH,
        organizations=ORGANIZATIONS,
        clients=CLIENTS,
        server=f"gunicorn, {WORKERS} workers x {THREADS} threads (gthread), keep-alive, loopback",
        http_runs=[round(value) for value in rates["http"]],
        http_one_connection=round(one),
        http_one_connection_runs=[round(value) for value in rates["http_one_connection"]],
        ratio_one_connection=round(one / baseline, 2),
        ingest_runs=[round(value) for value in rates["ingest"]],
        # Other work on the machine (1-minute load average, 2 cores) shifts both sides.
        load_average=[round(load_before, 1), round(os.getloadavg()[0], 1)],
        meets_target=ours >= 10_000 and ours / baseline >= 0.5,
    )


class Server:
    """gunicorn serving the portal (bench settings, the benchmark database) on a
    free loopback port, while the block runs."""

    def __enter__(self) -> Server:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = open(os.devnull, "wb")  # closed in __exit__
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={WORKERS}",
                "--worker-class=gthread",
                f"--threads={THREADS}",
                "--keep-alive=60",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_POOL_MAX": "8"},
            stdout=self.log,
            stderr=self.log,
        )
        self._wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited at start")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz within 120 s")

    def post_all(self, bodies: list[tuple[str, bytes]], clients: int) -> float:
        """Send every body over `clients` keep-alive connections at once;
        events recorded per second (every event must be accepted)."""
        pending = list(reversed(bodies))
        lock = threading.Lock()
        accepted = [0]
        errors: list[str] = []

        def client() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                while True:
                    with lock:
                        if not pending:
                            return
                        secret, body = pending.pop()
                    connection.request(
                        "POST",
                        PATH,
                        body=body,
                        headers={"Content-Type": BATCH_TYPE, "Authorization": f"Api-Key {secret}"},
                    )
                    response = connection.getresponse()
                    answer = response.read()
                    if response.status != 200:
                        errors.append(f"{response.status}: {answer[:300]!r}")
                        return
                    results = json.loads(answer)["results"]
                    with lock:
                        accepted[0] += sum(1 for result in results if result["status"] == "accepted")
            finally:
                connection.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        if errors:
            raise RuntimeError(f"the server refused a batch: {errors[0]}")
        expected = BATCH * len(bodies)
        assert accepted[0] == expected, (accepted[0], expected)
        return expected / elapsed
