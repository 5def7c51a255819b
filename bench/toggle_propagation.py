"""How long a toggle change takes to reach a second process: this process
switches a capability and notes the time the change committed; a probe process
polling `is_enabled` notes when it first sees it. Side by side, the same with a
django-waffle flag on the Redis cache (waffle invalidates its cache on save).
Target: at most 1 s."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHANGES = 20
ROOT = Path(__file__).resolve().parent.parent


class Probe:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.probe", *args],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().split()
        assert first and first[0] == "ready", first
        self.state = first[1] == "1"

    def seen_at(self, expected: bool) -> float:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        stamp, state = float(line[0]), line[1] == "1"
        assert state == expected, line
        return stamp

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def run() -> dict[str, Any]:
    from waffle.models import Flag

    from bench.fixtures import bench_organization
    from bench.harness import median, write_result
    from capabilities import actions
    from capabilities.gate import STALENESS

    organization, owner = bench_organization()
    Flag.objects.update_or_create(name="ocr", defaults={"everyone": False})

    ours: list[float] = []
    probe = Probe("ours", str(organization.pk), "ocr")
    try:
        state = probe.state
        for _ in range(CHANGES):
            state = not state
            actions.set_capability_enabled(owner, organization, "ocr", enabled=state, reason="benchmark")
            committed = time.time()
            ours.append(probe.seen_at(state) - committed)
            time.sleep(0.05)
    finally:
        probe.stop()

    waffle: list[float] = []
    probe = Probe("waffle", "ocr")
    try:
        flag = Flag.objects.get(name="ocr")
        state = probe.state
        for _ in range(CHANGES):
            state = not state
            flag.everyone = state
            flag.save()  # waffle clears its cache entry on save
            committed = time.time()
            waffle.append(probe.seen_at(state) - committed)
            time.sleep(0.05)
    finally:
        probe.stop()

    ours_ms = [max(0.0, value) * 1000 for value in ours]
    waffle_ms = [max(0.0, value) * 1000 for value in waffle]
    return write_result(
        "toggle_propagation",
        metric="median time from a committed toggle change to a second process seeing it",
        unit="ms",
        ours=median(ours_ms),
        baseline=median(waffle_ms),
        baseline_name="django-waffle flag on the Redis cache (invalidated on save)",
        higher_is_better=False,
        target="ours max <= 1000 ms (bounded staleness of the in-process snapshot)",
        runs=CHANGES,
        ours_max_ms=round(max(ours_ms), 1),
        baseline_max_ms=round(max(waffle_ms), 1),
        staleness_bound_ms=STALENESS * 1000,
        meets_target=max(ours_ms) <= 1000,
    )
