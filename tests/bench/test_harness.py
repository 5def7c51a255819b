"""The harness's own fields in bench/results: the `commit` a result was
measured on, and the machine's CPU time over the timed runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.harness import Busy, _busy_ticks, _commit, cpu_summary, machine_busy


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def test_rewritten_result_files_do_not_mark_the_code_changed(tmp_path):
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "bench" / "results" / "one.json").write_text("{}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-qm", "start")
    head = _git(tmp_path, "rev-parse", "--short=12", "HEAD")

    assert _commit(tmp_path) == head
    # The previous benchmark of the same run rewrote its result file.
    (tmp_path / "bench" / "results" / "one.json").write_text('{"ratio": 0.5}\n')
    assert _commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert _commit(tmp_path) == f"{head}+changes"


def _stat(path: Path, user: int, system: int, idle: int) -> None:
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice
    path.write_text(f"cpu  {user} 5 {system} {idle} 7 2 3 11 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n")


def test_busy_ticks_count_every_busy_column_and_not_idle_waiting_or_stolen_time(tmp_path):
    stat = tmp_path / "stat"
    _stat(stat, user=100, system=40, idle=900)
    assert _busy_ticks(stat) == 100 + 5 + 40 + 2 + 3
    assert _busy_ticks(tmp_path / "absent") is None


def test_machine_busy_measures_the_cpu_time_spent_inside_the_block(tmp_path):
    stat = tmp_path / "stat"
    _stat(stat, user=100, system=40, idle=900)
    runs: list[Busy] = []
    with machine_busy(runs, stat=stat) as busy:
        _stat(stat, user=100 + 150, system=40 + 50, idle=950)
    assert busy.cpu == pytest.approx(200 / os.sysconf("SC_CLK_TCK"))
    assert busy.wall > 0
    assert runs == [busy]


def test_cpu_summary_compares_cpu_per_unit_and_cores_kept_busy():
    ours = [Busy(cpu=3.0, wall=2.0), Busy(cpu=3.4, wall=2.0), Busy(cpu=3.2, wall=2.0)]
    bare = [Busy(cpu=2.4, wall=1.5), Busy(cpu=2.4, wall=1.2), Busy(cpu=2.6, wall=1.3)]
    summary = cpu_summary(ours, bare, 1000)
    assert summary["cpu_ms_per_unit"] == {"ours": 3.2, "baseline": 2.4}
    assert summary["cpu_ratio"] == 0.75
    assert summary["cores_busy"] == {"ours": 1.6, "baseline": 2.0}
    # Without /proc, no CPU fields rather than made-up ones.
    assert cpu_summary([Busy(cpu=None, wall=2.0)], bare, 1000) == {}
    assert cpu_summary([], bare, 1000) == {}
