"""``python -m embedded_servers run|test [--var DIR] -- COMMAND [ARGS...]``."""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from embedded_servers.layout import Layout
from embedded_servers.servers import Postgres, Redis, ServerError

DEFAULT_VAR = Path(__file__).resolve().parent.parent / "var"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedded_servers", description=__doc__)
    parser.add_argument(
        "mode", choices=["run", "test"], help="run: data in --var; test: in a temporary folder"
    )
    parser.add_argument("--var", type=Path, help="the servers' folder (run: $SWITCHBOARD_VAR_DIR or var/)")
    parser.add_argument("--durable", action="store_true", help="test: flush to disk as production does")
    parser.add_argument("command", nargs="*", help="the command to run, after --")
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        parser.error("give the command to run after --")
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("give the command to run after --")

    environment = dict(os.environ)
    if args.mode == "test":
        environment["DJANGO_ENV"] = "test"
        database_url = environment.get("TEST_DATABASE_URL", "")
        redis_url = environment.get("TEST_REDIS_URL", "")
    else:
        database_url = environment.get("DATABASE_URL", "")
        redis_url = environment.get("REDIS_URL", "")
    try:
        with ExitStack() as stack:
            if not (database_url and redis_url):
                if args.var is None and args.mode == "run":
                    args.var = Path(os.environ.get("SWITCHBOARD_VAR_DIR", DEFAULT_VAR))
                base = args.var.resolve() if args.var else stack.enter_context(_temporary_folder())
                urls = stack.enter_context(
                    servers(
                        Layout(base),
                        postgres=not database_url,
                        redis=not redis_url,
                        durable=args.mode == "run" or args.durable,
                    )
                )
                database_url = database_url or urls["DATABASE_URL"]
                redis_url = redis_url or urls["REDIS_URL"]
            environment["DATABASE_URL"] = database_url
            environment["REDIS_URL"] = redis_url
            return _run(command, environment)
    except ServerError as error:
        print(f"embedded_servers: {error}", file=sys.stderr)
        return 1


@contextmanager
def servers(
    layout: Layout, *, postgres: bool = True, redis: bool = True, durable: bool = True
) -> Iterator[dict[str, str]]:
    """Start the servers of `layout` (or join those another process of ours
    started), yield their URLs, stop them after (unless they were joined)."""
    layout.run.mkdir(parents=True, exist_ok=True)
    lock = layout.lock.open("a+")
    try:
        owner = _take_lock(lock)
        if owner is not None:
            # Another `make run` (or `make test`) owns these servers: use them and
            # leave starting and stopping to it.
            print(f"embedded_servers: using the servers started by process {owner} ({layout.base})")
            yield {"DATABASE_URL": layout.database_url, "REDIS_URL": layout.redis_url}
            return
        started: list[Postgres | Redis] = []
        try:
            for wanted, server in ((postgres, Postgres(layout, durable)), (redis, Redis(layout, durable))):
                if wanted:
                    try:
                        server.start()
                    except (OSError, subprocess.SubprocessError) as error:
                        raise ServerError(f"{_names([server])} did not start: {error}") from error
                    started.append(server)
            print(f"embedded_servers: {_names(started)} up, data and sockets in {layout.base}", flush=True)
            yield {"DATABASE_URL": layout.database_url, "REDIS_URL": layout.redis_url}
        finally:
            for server in reversed(started):
                try:
                    server.stop()
                except (ServerError, OSError, subprocess.SubprocessError) as error:
                    print(f"embedded_servers: {error}", file=sys.stderr)
            if started:
                print(f"embedded_servers: {_names(started)} stopped", flush=True)
    finally:
        lock.close()


def _names(servers: list[Postgres | Redis]) -> str:
    return " and ".join("PostgreSQL" if isinstance(server, Postgres) else "Redis" for server in servers)


def _take_lock(lock) -> int | None:
    """None when this process now owns the servers, else the owner's pid."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        text = lock.read().strip()
        return int(text) if text.isdigit() else -1
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return None


@contextmanager
def _temporary_folder() -> Iterator[Path]:
    # Under /tmp, short: Unix socket paths are limited to about 100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="switchboard-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str], environment: dict[str, str]) -> int:
    """Run `command` in the foreground. A Ctrl-C reaches it from the terminal
    (same process group); SIGTERM and SIGHUP sent to us are passed on. Either
    way we wait for it to end before the servers stop."""
    child = subprocess.Popen(command, env=environment)

    def pass_on(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGHUP, pass_on)
    code = child.wait()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
