"""The quickstart profile boots with nothing configured (SQLite in WAL mode, a
file-system broker, a file cache), seeds the demo, signs in over HTTP and runs
a task on a quickstart worker."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.workers import wait_for

pytestmark = pytest.mark.quickstart

ROOT = Path(__file__).resolve().parent.parent
CONFIG_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_ENV", "DJANGO_SETTINGS_MODULE")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def quickstart_env(tmp_path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env["SWITCHBOARD_VAR_DIR"] = str(tmp_path / "var")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_quickstart_boots_signs_in_and_runs_a_task(quickstart_env, tmp_path):
    _manage(quickstart_env, "migrate", "--noinput")
    assert "Demo data ready" in _manage(quickstart_env, "seed_demo")
    journal_mode = _manage(
        quickstart_env,
        "shell",
        "-c",
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])",
    )
    assert journal_mode.strip().splitlines()[-1] == "wal"

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = (tmp_path / "server.log").open("w+")
    worker_log = (tmp_path / "worker.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=quickstart_env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo", "--loglevel", "INFO"],
        cwd=ROOT,
        env=quickstart_env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _get_status(f"{base}/healthz") == 200, 60, "the quickstart server")
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
            assert json.load(response)["status"] == "ready"

        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = browser.open(f"{base}/accounts/login/", timeout=10).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": csrf, "username": "alice@acme.test", "password": "switchboard-demo"}
        ).encode()
        request = urllib.request.Request(
            f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/"}
        )
        home = browser.open(request, timeout=10)
        body = home.read().decode()
        assert home.geturl() == f"{base}/"
        assert "<h1>Acme Corp</h1>" in body
        assert "Alice Archer" in body

        # The file-system broker carries a task from this process to the worker,
        # and the file cache shows its effect to every process.
        _manage(
            quickstart_env,
            "shell",
            "-c",
            "from portal.tasks import record_heartbeat; record_heartbeat.delay()",
        )
        wait_for(
            lambda: (
                "None"
                not in _manage(
                    quickstart_env,
                    "shell",
                    "-c",
                    "from django.core.cache import cache; from portal.tasks import HEARTBEAT_KEY; "
                    "print(cache.get(HEARTBEAT_KEY))",
                )
            ),
            90,
            "the quickstart worker to run the heartbeat task",
        )
    finally:
        for process in (server, worker):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        server_log.seek(0)
        worker_log.seek(0)
        print(server_log.read()[-3000:], worker_log.read()[-3000:])


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None


# Documents on SQLite: the FTS5 table the app keeps, bm25 ranking, snippet().
DOCUMENTS_SEARCH = """
from django.core.files.uploadedfile import SimpleUploadedFile
from capabilities.actions import set_capability_enabled
from capabilities.documents import search
from capabilities.documents.actions import upload_documents
from capabilities.tasks import _run
from portal.models import Organization, User
alice = User.objects.get(email="alice@acme.test")
acme = Organization.objects.get(slug="acme")
set_capability_enabled(alice, acme, "documents", enabled=True)
files = [
    SimpleUploadedFile("manual.txt", b"Grease the turbine bearings. The turbine turbine rotor."),
    SimpleUploadedFile("memo.txt", b"Lunch memo that names a turbine once among other words."),
    SimpleUploadedFile("other.txt", b"Nothing relevant here & <b>tags</b>."),
]
for document in upload_documents(alice, acme, files).documents:
    print("job", _run(document.job.pk))
for hit in search.search(acme.pk, "turbines"):
    print("hit", hit.document_name, hit.page_number, hit.snippet)
print("globex hits", len(search.search(Organization.objects.get(slug="globex").pk, "turbine")))
"""


def test_quickstart_searches_documents_on_sqlite(quickstart_env):
    _manage(quickstart_env, "migrate", "--noinput")
    _manage(quickstart_env, "seed_demo")
    output = _manage(quickstart_env, "shell", "-c", DOCUMENTS_SEARCH).splitlines()
    assert [line for line in output if line.startswith("job")] == ["job succeeded"] * 3
    hits = [line for line in output if line.startswith("hit")]
    # Porter stemming finds "turbine" for "turbines"; bm25 ranks the page that says it most first.
    assert [line.split()[1] for line in hits] == ["manual.txt", "memo.txt"]
    assert "<mark>turbine</mark>" in hits[0]
    assert "globex hits 0" in output
