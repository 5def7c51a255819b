"""gunicorn serving the portal for a benchmark: the benchmark database, the
server settings (bench/server_settings.py: the portal's routes plus the bench's
own baselines), threaded workers with keep-alive, on a free loopback port."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2  # gunicorn processes: this machine's cores
THREADS = 4


class Server:
    """gunicorn serving the portal while the block runs. Stopped with SIGTERM,
    as in production, so its workers write what they hold (API-call counts)."""

    def __init__(self, *, workers: int = WORKERS, threads: int = THREADS) -> None:
        self.workers = workers
        self.threads = threads
        self.port = 0

    @property
    def description(self) -> str:
        return f"gunicorn portal.wsgi, {self.workers} workers x {self.threads} threads (gthread), keep-alive"

    def __enter__(self) -> Server:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
        ]
        command += [f"--workers={self.workers}", "--worker-class=gthread", f"--threads={self.threads}"]
        command += ["--keep-alive=60", "--log-level=warning"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.server_settings",
            "DATABASE_POOL_MAX": str(self.threads + 2),
            # As in production: counted API calls written every second (the
            # test settings under the bench's turn the writer off).
            "TEST_API_CALLS_WRITE_INTERVAL": "1",
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if error is not None:
            sys.stderr.write(self.log.read_text()[-3000:])
        self.log.unlink(missing_ok=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz within 120 s")


def shared_machine() -> str:
    """The harness's machine line, with what is known of the rest of the load:
    this machine is shared with other agents' builds and test runs."""
    from bench.harness import _machine

    one, five, _ = os.getloadavg()
    load = f"load average {one:.1f} (1 min), {five:.1f} (5 min) at the end"
    return f"{_machine()}; shared with other agents' builds and tests, {load}"
