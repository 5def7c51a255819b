"""What the portal adds to an API request: requests/s of a gated, metered
capability endpoint vs a bare DRF view, on the same gunicorn server (2
gthread workers x 4 threads), loaded by wrk over 8 keep-alive connections on
loopback, alternating round by round in one run.

- ours: `GET /api/v1/c/summaries/count/` with an organization API key: the
  key's check, the capability gate (the organization's toggle) and the
  membership permission, and the call counted as an `api_calls` use by the
  metering middleware. The view itself answers a constant, so what is
  measured is the portal's cost around it.
- baseline: `GET /bench/bare-api/`, a DRF view answering the same JSON with no
  authentication, permission, gate or metering, routed only in the
  benchmarks' server settings (bench/urls.py). Both go through the same
  Django middleware stack, so ours/baseline is what our auth, gate and
  metering cost.

wrk (Debian's package; `scripts/ensure-browser` installs it) generates the
load: a Python client would be the bottleneck on a 2-core machine."""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

OURS = "/api/v1/c/summaries/count/"
BARE = "/bench/bare-api/"
ROUNDS = 5
SECONDS = 5  # per side and round
WARM_UP_SECONDS = 2
CONNECTIONS = 8  # the server's 2 workers x 4 threads
WRK_THREADS = 2


@dataclass(frozen=True)
class Load:
    """One wrk run's outcome."""

    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx answers and socket errors


def parse_wrk(output: str) -> Load:
    """The figures of wrk's report (run with --latency)."""

    def number(pattern: str, default: str | None = None) -> str:
        found = re.search(pattern, output)
        if found is None:
            if default is None:
                raise RuntimeError(f"wrk's report has no {pattern!r}:\n{output}")
            return default
        return found.group(1)

    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(part) for part in errors.groups()) if errors else 0
    return Load(
        requests=int(number(r"(\d+) requests in")),
        per_second=float(number(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=ms(number(r"50%\s+([\d.]+\w+)")),
        p99_ms=ms(number(r"99%\s+([\d.]+\w+)")),
        failed=int(number(r"Non-2xx or 3xx responses: (\d+)", "0")) + socket_errors,
    )


def wrk(url: str, seconds: int, headers: dict[str, str]) -> Load:
    command = ["wrk", f"--threads={WRK_THREADS}", f"--connections={CONNECTIONS}", f"--duration={seconds}s"]
    command += ["--latency", "--timeout=10s"]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    load = parse_wrk(output)
    if load.failed:
        raise RuntimeError(f"{url}: {load.failed} requests failed:\n{output}")
    return load


def check_paths(port: int, secret: str) -> None:
    """Both answer 200 over one kept-alive connection; ours refuses a call without a key."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path, headers, status in (
        (OURS, {"Authorization": f"Api-Key {secret}"}, 200),
        (BARE, {}, 200),
        (OURS, {}, 401),
    ):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != status:
            raise RuntimeError(f"{path} answered {response.status}, expected {status}: {body[:300]!r}")
        if response.getheader("Connection", "").lower() == "close":
            raise RuntimeError(f"{path}: the server closed the connection, no keep-alive")
    connection.close()


def queries_per_request(secret: str) -> dict[str, int]:
    """Queries of a warm request of each path, in this process (the same
    settings and routes as the server)."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    counts = {}
    with override_settings(ROOT_URLCONF="bench.urls"):
        for name, path, headers in (
            ("ours", OURS, {"Authorization": f"Api-Key {secret}"}),
            ("baseline", BARE, {}),
        ):
            client = Client(headers=headers)
            assert client.get(path).status_code == 200, path  # warm: the key's last use, the snapshot
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path).status_code == 200, path
            counts[name] = len(captured)
    return counts


def run(*, rounds: int = ROUNDS, seconds: int = SECONDS, warm_up: int = WARM_UP_SECONDS) -> dict[str, Any]:
    from bench.fixtures import bench_organization
    from bench.harness import median, write_result
    from bench.http_server import Server, shared_machine
    from capabilities import is_enabled
    from capabilities.actions import set_capability_enabled
    from metering import api_calls
    from portal.actions.api_keys import create_api_key
    from portal.models import OrganizationAPIKey

    if shutil.which("wrk") is None:
        raise SystemExit(
            "request_overhead needs wrk: run scripts/ensure-browser (as root) or apt-get install wrk"
        )
    organization, owner = bench_organization()
    if not is_enabled(organization, "summaries"):
        set_capability_enabled(
            owner, organization, "summaries", enabled=True, include_related=True, reason="benchmark"
        )
    OrganizationAPIKey.objects.filter(organization=organization, name="request overhead bench").delete()
    _, secret = create_api_key(owner, organization, name="request overhead bench", scope="read")
    queries = queries_per_request(secret)
    api_calls.flush()  # earlier runs' calls and the two above, so what is flushed after is this run's
    key = {"Authorization": f"Api-Key {secret}"}

    ours: list[Load] = []
    bare: list[Load] = []
    with Server() as server:
        check_paths(server.port, secret)
        sent = 1  # check_paths' keyed call (the refused one is not a use)
        sent += wrk(server.url(OURS), warm_up, key).requests
        wrk(server.url(BARE), warm_up, {})
        for _ in range(rounds):
            ours.append(wrk(server.url(OURS), seconds, key))
            bare.append(wrk(server.url(BARE), seconds, {}))
        sent += sum(load.requests for load in ours)
    counted = api_calls.flush()  # the server wrote its counts on its way out

    ours_rate = median([load.per_second for load in ours])
    bare_rate = median([load.per_second for load in bare])
    return write_result(
        "request_overhead",
        metric="requests/s of a gated, metered capability API endpoint (organization API key)",
        unit="requests/s",
        ours=ours_rate,
        baseline=bare_rate,
        baseline_name="a bare DRF view (no authentication, permission, gate or metering) on the same server",
        higher_is_better=True,
        target="recorded (no target set yet)",
        runs=rounds,
        seconds_per_run=seconds,
        load=f"wrk, {WRK_THREADS} threads, {CONNECTIONS} keep-alive connections, loopback",
        server=Server().description,
        machine=shared_machine(),
        paths={"ours": OURS, "baseline": BARE},
        ours_runs=[round(load.per_second, 1) for load in ours],
        baseline_runs=[round(load.per_second, 1) for load in bare],
        ours_p50_ms=median([load.p50_ms for load in ours]),
        ours_p99_ms=median([load.p99_ms for load in ours]),
        baseline_p50_ms=median([load.p50_ms for load in bare]),
        baseline_p99_ms=median([load.p99_ms for load in bare]),
        added_p50_ms=round(
            median([load.p50_ms for load in ours]) - median([load.p50_ms for load in bare]), 3
        ),
        queries_per_request=queries,
        api_calls_answered=sent,
        api_calls_in_ledger=counted,
    )
