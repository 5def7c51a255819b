"""API-call counting in a real web process (gunicorn, one worker) on the test
database: its writer thread puts counted calls in PostgreSQL within a second,
so a Redis restart without persistence loses none, a SIGKILL loses none that
were written, and a normal stop writes what the thread had not yet written.
The test process does the move to the ledger (beat's task)."""

from __future__ import annotations

import os
import signal
import tempfile
import urllib.request
from pathlib import Path

import pytest
from django.db.models import F, Sum

from capabilities import actions
from embedded_servers.layout import Layout
from embedded_servers.servers import Redis
from metering import api_calls
from metering.models import ApiCallCount, UsageEvent
from portal.actions.api_keys import create_api_key
from tests.workers import wait_for, web_server

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SUMMARY_COUNT = "/api/v1/c/summaries/count/"


@pytest.fixture
def secret(alice, acme) -> str:
    actions.set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    _, secret = create_api_key(alice, acme, name="process test", scope="manage")
    return secret


def call(base_url: str, secret: str, times: int) -> None:
    for _ in range(times):
        request = urllib.request.Request(
            base_url + SUMMARY_COUNT, headers={"Authorization": f"Api-Key {secret}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200


def written() -> int:
    """Calls the web processes have written to PostgreSQL and not yet moved."""
    return ApiCallCount.objects.aggregate(total=Sum(F("calls") - F("moved")))["total"] or 0


def in_ledger(organization) -> int:
    events = UsageEvent.objects.filter(organization=organization, meter=api_calls.METER)
    return events.aggregate(total=Sum("quantity"))["total"] or 0


def test_a_redis_restart_without_persistence_loses_no_call(acme, secret):
    """The web process runs on a Redis of its own, which is stopped and
    started again empty (no append-only file, no snapshot) between calls."""
    with tempfile.TemporaryDirectory(prefix="sb-redis-") as folder:
        layout = Layout(Path(folder))
        redis = Redis(layout, durable=False)
        redis.start()
        try:
            env = {"REDIS_URL": layout.redis_url, "TEST_API_CALLS_WRITE_INTERVAL": "1"}
            with web_server(env=env) as server:
                call(server.url, secret, 20)
                redis.stop()
                redis.start()  # empty
                call(server.url, secret, 15)
                wait_for(lambda: written() == 35, 60, "the web process to write its 35 calls")
        finally:
            redis.stop()

    assert api_calls.flush() == 35
    assert in_ledger(acme) == 35


def test_a_sigkilled_web_process_loses_no_call_it_has_written(acme, secret):
    with web_server(env={"TEST_API_CALLS_WRITE_INTERVAL": "1"}) as server:
        call(server.url, secret, 25)
        wait_for(lambda: written() == 25, 60, "the web process to write its 25 calls")
        for pid in server.worker_pids():
            os.kill(pid, signal.SIGKILL)
        server.process.kill()
        server.process.wait()

    assert api_calls.flush() == 25
    assert in_ledger(acme) == 25
    assert api_calls.flush() == 0


def test_a_web_process_that_stops_normally_writes_its_last_calls(acme, secret):
    """With a writer that would wait an hour, only the exit hook can write them."""
    with web_server(env={"TEST_API_CALLS_WRITE_INTERVAL": "3600"}) as server:
        call(server.url, secret, 12)
        assert written() == 0
        server.process.terminate()  # SIGTERM: gunicorn stops its worker gracefully
        server.process.wait(timeout=60)

    assert written() == 12
    assert api_calls.flush() == 12
    assert in_ledger(acme) == 12
