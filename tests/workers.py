"""A real Celery worker in a subprocess, pointed at the test database, for tests
whose flow crosses the broker (pytest-django's test DB is committed to with
`transactional_db`, so the worker sees the rows)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from django.conf import settings
from django.db import connection

from capabilities import presence

ROOT = Path(__file__).resolve().parent.parent


def worker_environment() -> dict[str, str]:
    """The current process's environment, with DATABASE_URL naming the test DB
    (on the same server: a TCP address or a socket folder, `?host=`)."""
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{connection.settings_dict['NAME']}")
    return {**os.environ, "DATABASE_URL": urlunsplit(url), "DATABASE_POOL": "false", "PYTHONUNBUFFERED": "1"}


@contextmanager
def celery_worker(
    queues: str = "celery",
    *,
    pool: str = "solo",
    concurrency: int = 1,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """Start `celery worker` for `queues`, wait until it is ready, stop it after
    (if it is still alive: a test may have killed it)."""
    assert settings.CELERY_BROKER_URL.startswith(("redis://", "redis+socket://")), "worker tests run on Redis"
    name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    log = tempfile.NamedTemporaryFile("w+", prefix="celery-worker-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--queues",
            queues,
            "--hostname",
            name,
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env={**worker_environment(), **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: "ready." in Path(log.name).read_text(), timeout, "the worker to start")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # A worker a test killed could not withdraw its presence: it would be
        # listed on its queues for PRESENCE_STALE more seconds, into the next
        # test's health figures. A stopped one has withdrawn it already.
        presence.withdraw(name, queues.split(","))
        log.close()
        output = Path(log.name).read_text()
        Path(log.name).unlink(missing_ok=True)
        # Show the worker's log in the test report when something went wrong.
        print(output[-5000:])


def empty_queues(*queues: str) -> None:
    """Drop every message waiting on `queues` and every message a worker holds
    unacknowledged (kombu's `unacked` hash, which Redis hands back to the queue
    once its visibility timeout passes): for a test that counts messages, which
    an earlier test's killed worker could otherwise add to. The exchanges'
    bindings stay, so messages published afterwards still arrive."""
    from kombu.transport.redis import Channel

    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete(Channel.unacked_key, Channel.unacked_index_key, *queues)


def worker_log(worker: subprocess.Popen[str]) -> str:
    """What a running worker of `celery_worker` has logged so far (its stdout
    goes to a file, read through the process's descriptor)."""
    with open(f"/proc/{worker.pid}/fd/1") as log:
        return log.read()


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `condition` until it is truthy; fail after `timeout` seconds. A
    deadline for a process to finish, never an assertion on speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"Timed out after {timeout:.0f}s waiting for {what}")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def web_server(*, timeout: float = 60, env: dict[str, str] | None = None) -> Iterator[WebServer]:
    """Start gunicorn (one sync worker) on the test database, as production
    serves the portal; wait until it answers; stop it after (if a test has not
    killed it)."""
    import urllib.error
    import urllib.request

    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--graceful-timeout",
            "20",
        ],
        cwd=ROOT,
        env={**worker_environment(), **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = WebServer(process, f"http://127.0.0.1:{port}", Path(log.name))

    def answers() -> bool:
        try:
            urllib.request.urlopen(f"{server.url}/healthz", timeout=5)
        except urllib.error.HTTPError:
            return True  # any HTTP answer: it is serving
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{server.log.read_text()[-3000:]}") from None
            return False
        return True

    try:
        wait_for(answers, timeout, "gunicorn to answer")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        print(server.log.read_text()[-5000:])
        server.log.unlink(missing_ok=True)


class WebServer:
    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def worker_pids(self) -> list[int]:
        """The pids of gunicorn's worker processes (children of the master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]
