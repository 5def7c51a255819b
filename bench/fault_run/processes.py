"""The fault run's deployment: embedded PostgreSQL and Redis, a gunicorn web
process, Celery workers and beat, each in a process group of its own so a
kill takes the whole worker (its pool children too), as a lost host would;
and the faults, each written to the timeline."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from embedded_servers.layout import Layout, broker_url
from embedded_servers.servers import Postgres, Redis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STOP_TIMEOUT = 20  # seconds a process may take to stop on SIGTERM before it is killed


class Timeline:
    """What happened when, in seconds since the run started (thread-safe)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def add(self, event: str, **details: Any) -> None:
        entry = {
            "t": self.elapsed(),
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            **details,
        }
        with self._lock:
            self.events.append(entry)
        extra = " ".join(f"{name}={value}" for name, value in details.items())
        print(f"[{entry['t']:7.1f}s] {event} {extra}".rstrip(), flush=True)


@dataclass
class PortalProcess:
    """One long-running process of the portal (web, a worker, beat)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill reaches its pool children
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        """SIGKILL the whole process group: nothing of it gets to clean up."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Settings:
    """What the run's processes are told through the environment."""

    sweep_interval: float
    requeue_grace: float
    lease_seconds: float
    lease_renew: float
    web_workers: int
    worker_concurrency: int


@dataclass
class Deployment:
    base: Path
    port: int
    settings: Settings
    timeline: Timeline
    workers: list[PortalProcess] = field(default_factory=list)
    web: PortalProcess | None = None
    beat: PortalProcess | None = None

    def __post_init__(self) -> None:
        self.layout = Layout(self.base)
        self.postgres = Postgres(self.layout, durable=True)
        # No persistence: the one Redis restart loses everything it held.
        self.redis = Redis(self.layout, durable=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The portal's processes' settings: these servers, short sweep periods."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "TEST_DATABASE_URL", "TEST_REDIS_URL")
        }
        env |= {
            "DJANGO_ENV": "quickstart",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SWITCHBOARD_VAR_DIR": str(self.base),
            "DATABASE_URL": self.layout.database_url,
            "REDIS_URL": self.layout.redis_url,
            "CELERY_BROKER_URL": broker_url(self.layout.redis_url),
            "JOB_SWEEP_INTERVAL": str(self.settings.sweep_interval),
            "JOB_REQUEUE_GRACE": str(self.settings.requeue_grace),
            "JOB_LEASE_SECONDS": str(self.settings.lease_seconds),
            "JOB_LEASE_RENEW": str(self.settings.lease_renew),
            "PYTHONUNBUFFERED": "1",
        }
        # Billing talks to no Stripe in this run: usage waits in the push backlog.
        for name in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET"):
            env.pop(name, None)
        return env

    def start_servers(self) -> None:
        self.postgres.start()
        self.redis.start()
        self.timeline.add("servers started", postgres=str(self.layout.postgres_data))

    def start_portal(self, worker_count: int) -> None:
        env = self.environment()
        logs = self.layout.logs
        web = [
            str(BIN / "gunicorn"), "portal.wsgi", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.settings.web_workers), "--timeout", "60",
            "--graceful-timeout", "5", "--access-logfile", "-",
        ]  # fmt: skip
        self.web = PortalProcess("web", web, env, logs / "web.log")
        # Each worker consumes every queue the registry declares (celery and
        # cap.<key>), as the quickstart's worker does.
        worker = [
            str(BIN / "celery"), "-A", "portal", "worker", "--loglevel", "INFO",
            "--concurrency", str(self.settings.worker_concurrency), "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        self.workers = [
            PortalProcess(
                f"worker-{index}",
                [*worker, "--hostname", f"fault-{index}@%h"],
                env,
                logs / f"worker-{index}.log",
            )
            for index in range(1, worker_count + 1)
        ]
        beat = [
            str(BIN / "celery"), "-A", "portal", "beat", "--loglevel", "INFO",
            "--pidfile", str(self.layout.run / "beat.pid"),
        ]  # fmt: skip
        self.beat = PortalProcess("beat", beat, env, logs / "beat.log")
        for process in [self.web, *self.workers, self.beat]:
            process.start()
        self._wait_for_web()
        self.timeline.add("portal started", web=self.url, workers=len(self.workers))

    def _wait_for_web(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        assert self.web is not None
        while time.monotonic() < deadline:
            if not self.web.alive():
                raise SystemExit(f"The web process stopped while starting; see {self.web.log}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit(f"The web process did not answer within {timeout:.0f} s; see {self.web.log}")

    def processes(self) -> list[PortalProcess]:
        return [process for process in [self.web, *self.workers, self.beat] if process is not None]

    def revive_exited(self) -> None:
        """A process that stopped on its own is a finding: noted, then restarted
        so the run goes on."""
        for process in self.processes():
            if process.process is not None and not process.alive():
                self.timeline.add("process exited on its own", process=process.name, rc=process.returncode())
                process.start()
                self.timeline.add("process restarted", process=process.name)

    # --- faults ---------------------------------------------------------------

    def kill_random_worker(self, restart_delay: float) -> str:
        worker = random.choice(self.workers)
        worker.kill()
        self.timeline.add("worker SIGKILLed", process=worker.name)
        time.sleep(restart_delay)
        worker.start()
        self.timeline.add("worker restarted", process=worker.name)
        return worker.name

    def restart_redis_without_data(self, outage: float) -> None:
        self.timeline.add("redis stopping")
        self.redis.stop()
        removed = []
        for path in self.layout.redis_data.iterdir():
            if path.is_file():
                path.unlink()
                removed.append(path.name)
            elif path.is_dir():  # Redis 7's appendonlydir
                for inner in path.iterdir():
                    inner.unlink()
                    removed.append(f"{path.name}/{inner.name}")
        self.timeline.add("redis stopped, data files deleted", files=removed or "none")
        time.sleep(outage)
        self.redis.start()
        self.timeline.add("redis started empty")

    def restart_postgres(self, outage: float) -> None:
        self.timeline.add("postgres stopping (fast)")
        self.postgres.stop()
        self.timeline.add("postgres stopped")
        time.sleep(outage)
        self.postgres.start()
        self.timeline.add("postgres started")

    def stop_portal(self) -> None:
        running = [process for process in self.processes() if process.alive()]
        for process in running:
            process.stop()
        if running:
            self.timeline.add("portal stopped")

    def stop_servers(self) -> None:
        for server in (self.redis, self.postgres):
            try:
                server.stop()
            except Exception as error:  # noqa: BLE001 - stopping is best effort at the end
                print(f"stopping {type(server).__name__}: {error}", file=sys.stderr)
