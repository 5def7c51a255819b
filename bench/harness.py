"""Shared pieces of the benchmarks: a database of their own, timing, and the
result file format."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

RESULTS = Path(__file__).resolve().parent / "results"


def bench_database_url() -> str:
    """DATABASE_URL with `_bench` appended to the database name, so a benchmark
    never touches the data of a running portal or a test run."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: `make bench` does.")
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "switchboard"
    return urlunsplit(parts._replace(path=f"/{name}_bench"))


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def _commit(root: Path | None = None) -> str:
    """The checked-out commit (with "+changes" when the code differs from it;
    the result files themselves, which each benchmark of a run rewrites, do not
    count)."""
    import subprocess

    root = root or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def _machine() -> str:
    """The machine, and how busy it was when the result was written (the load
    average says whether other work shared the cores; BENCH_MACHINE_NOTE can
    say what it was)."""
    import platform

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    note = os.environ.get("BENCH_MACHINE_NOTE", "")
    return (
        f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}; load average {load} (1, 5, 15 min) at the end"
        + (f"; {note}" if note else "")
    )


def _busy_ticks(stat: Path = Path("/proc/stat")) -> int | None:
    """Clock ticks every core of the machine has spent running anything
    (user, nice, system, irq, softirq) since boot; None without /proc."""
    try:
        first = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in first[1:8])
    return user + nice + system + irq + softirq


@dataclass
class Busy:
    """What a measured span cost the whole machine: CPU seconds of every
    process on every core (ours, the workers, PostgreSQL, Redis, and anything
    else running), and its wall-clock seconds."""

    cpu: float | None = None
    wall: float = 0.0


@contextmanager
def machine_busy(runs: list[Busy] | None = None, stat: Path = Path("/proc/stat")) -> Iterator[Busy]:
    """Measure the machine's CPU time over the `with` block (added to `runs`
    when given). On two cores shared by a producer, the workers, PostgreSQL
    and Redis, throughput ratios move with whatever else runs; CPU per unit of
    work moves much less, and with the cores kept busy it says what the ratio
    could be."""
    busy = Busy()
    before, start = _busy_ticks(stat), time.perf_counter()
    try:
        yield busy
    finally:
        after = _busy_ticks(stat)
        busy.wall = time.perf_counter() - start
        if before is not None and after is not None:
            busy.cpu = (after - before) / os.sysconf("SC_CLK_TCK")
    if runs is not None:
        runs.append(busy)


def cpu_summary(ours: list[Busy], baseline: list[Busy], units: int) -> dict[str, Any]:
    """The result fields of CPU per unit of work (the median of each side's
    runs, in milliseconds), the baseline's over ours (the throughput ratio the
    cores would allow if both sides kept them equally busy), and how many
    cores each side kept busy; none without /proc."""
    sides = {"ours": ours, "baseline": baseline}
    cpu = {side: [busy.cpu for busy in runs if busy.cpu is not None] for side, runs in sides.items()}
    if any(len(cpu[side]) < len(runs) or not runs for side, runs in sides.items()):
        return {}
    per_unit = {side: median(seconds) * 1000 / units for side, seconds in cpu.items()}
    cores = {
        side: median([seconds / busy.wall for seconds, busy in zip(cpu[side], runs, strict=True)])
        for side, runs in sides.items()
    }
    return {
        "cpu_ms_per_unit": {side: round(value, 3) for side, value in per_unit.items()},
        "cpu_ratio": round(per_unit["baseline"] / per_unit["ours"], 3),
        "cores_busy": {side: round(value, 2) for side, value in cores.items()},
        "cpu_measured": "every process of the machine, from /proc/stat, over each timed run",
    }


def per_call_ns(call: Callable[[], Any], *, calls: int, batches: int) -> list[float]:
    """Nanoseconds per call, one figure per batch of `calls` calls."""
    call()  # warm up
    figures = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(calls):
            call()
        figures.append((time.perf_counter_ns() - start) / calls)
    return figures


def wait_until(
    condition: Callable[[], object], what: str, *, timeout: float = 300, poll: float = 0.05
) -> None:
    """Poll `condition` until it is truthy (every `poll` seconds, the
    resolution of an enqueue-to-done measurement); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll)


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_result(
    name: str,
    *,
    metric: str,
    unit: str,
    ours: float,
    baseline: float,
    baseline_name: str,
    higher_is_better: bool,
    target: str,
    runs: int,
    **extra: Any,
) -> dict[str, Any]:
    ratio = ours / baseline if higher_is_better else baseline / ours
    result = {
        "name": name,
        "metric": metric,
        "unit": unit,
        "ours": round(ours, 4),
        "baseline": round(baseline, 4),
        "baseline_name": baseline_name,
        "ratio": round(ratio, 2),
        "higher_is_better": higher_is_better,
        "target": target,
        "runs": runs,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": _machine(),
        **extra,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
