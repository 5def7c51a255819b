"""What the embedded-server tests look at from outside: which server processes
work on a folder, and the wrapper run as a newcomer runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
# A newcomer's environment: none of the suite's servers.
BARE = {"PATH": "/usr/bin:/bin"}


def servers_running_on(base: Path) -> set[str]:
    """Names of the PostgreSQL and Redis processes working on files under `base`."""
    names = set()
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if process.info["name"] in ("postgres", "redis-server") and str(base) in command:
            names.add(process.info["name"])
    return names


def run_wrapper(base: Path, code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m embedded_servers run --var base -- python -c code`, answered."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "embedded_servers",
            "run",
            "--var",
            str(base),
            "--",
            sys.executable,
            "-c",
            code,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
