"""A folder for servers started by a test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def server_folder() -> Iterator[Path]:
    """A new folder under /tmp for one test's servers, removed afterwards. Not
    under pytest's own temporary folder: another pytest session on the machine
    makes that owner-only again, and PostgreSQL's system user (the servers run
    as it when the suite runs as root) could then no longer reach its files."""
    folder = Path(tempfile.mkdtemp(prefix="sb-srv-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
