"""The `commit` field of bench/results: the code a result was measured on."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.harness import _commit


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
