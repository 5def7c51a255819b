"""`make run`'s real processes, booted as a newcomer does: embedded PostgreSQL
and Redis from their wheels (`python -m embedded_servers run`), then
`scripts/quickstart` (migrate, the Stripe emulator, seed_demo, web, worker,
beat and the demo's translation service under honcho), with nothing
configured. Over HTTP: alice signs in, uploads a document, a worker extracts
it, and its pages reach Stripe (the emulator) with the next push, where the
upcoming invoice shows them; the translation service asks its flag and its
usage reaches acme's ledger. Ctrl-C then stops every process, the two servers
included."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import stripe

from tests.embedded_servers.processes import servers_running_on
from tests.workers import wait_for

pytestmark = pytest.mark.quickstart

ROOT = Path(__file__).resolve().parent.parent
# What a newcomer's shell does not have: the suite's own settings and servers.
CONFIG_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "DJANGO_ENV",
    "DJANGO_SETTINGS_MODULE",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
    "STRIPE_WEBHOOK_SECRET",
)
BOOT_DEADLINE = 600  # seconds to migrate, seed the demo's history and start; a deadline, not a speed check
PASSWORD = "switchboard-demo"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def quickstart():
    """`make run` in a folder of its own; yields (base URL, emulator URL, var folder,
    process, log, translation service URL)."""
    # Short: the servers' Unix sockets live in it. Not under pytest's own temporary
    # folder: another pytest session on the machine makes that owner-only again,
    # and PostgreSQL's system user could then no longer reach its files.
    var = Path(tempfile.mkdtemp(prefix="sb-qs-", dir="/tmp"))
    port, emulator_port, translation_port = _free_port(), _free_port(), _free_port()
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env |= {
        "SWITCHBOARD_VAR_DIR": str(var),
        "PORT": str(port),
        "STRIPE_EMULATOR_PORT": str(emulator_port),
        "TRANSLATION_PORT": str(translation_port),
        "TRANSLATION_INTERVAL": "2",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = var.parent / f"{var.name}.log"
    log = log_path.open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "embedded_servers", "run", "--", "scripts/quickstart"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's job is
    )
    try:
        yield (
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{emulator_port}",
            var,
            process,
            log_path,
            f"http://127.0.0.1:{translation_port}",
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's job
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        print(log_path.read_text()[-8000:])
        shutil.rmtree(var, ignore_errors=True)
        log_path.unlink(missing_ok=True)


def _status(url: str) -> int | None:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return None


def _sign_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=30).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    home = session.post(
        f"{base}/accounts/login/",
        data={"csrfmiddlewaretoken": csrf, "username": email, "password": PASSWORD},
        headers={"Referer": f"{base}/"},
        timeout=30,
    )
    assert home.url == f"{base}/", home.text[:500]
    return session


def _upcoming_pages(emulator: str, organization_name: str) -> int:
    """Pages on the organization's upcoming Stripe invoice, asked with the official SDK."""
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": emulator}, max_network_retries=0)
    customer = next(
        c for c in client.v1.customers.list(params={"limit": 100}).data if c.name == organization_name
    )
    subscription = client.v1.subscriptions.list(params={"customer": customer.id}).data[0]
    preview = client.v1.invoices.create_preview(
        params={"customer": customer.id, "subscription": subscription.id}
    )
    prices = client.v1.prices.list(params={"limit": 100}).data
    pages_prices = {price.id for price in prices if (price.nickname or "").startswith("documents.pages ")}
    return sum(
        line.quantity or 0 for line in preview.lines.data if line.pricing.price_details.price in pages_prices
    )


def test_make_run_boots_on_embedded_servers_and_usage_reaches_stripe(quickstart):
    base, emulator, var, process, log_path, translation = quickstart
    wait_for(
        lambda: _status(f"{base}/healthz") == 200 or process.poll() is not None,
        BOOT_DEADLINE,
        "the quickstart to answer",
    )
    assert process.poll() is None, log_path.read_text()[-4000:]
    ready = requests.get(f"{base}/readyz", timeout=30).json()
    assert ready["status"] == "ready", ready

    # The servers are the embedded ones, with their data in var/; no SQLite anywhere.
    assert (var / "postgres" / "PG_VERSION").exists()
    assert (var / "run" / "redis.sock").is_socket()
    assert servers_running_on(var) == {"postgres", "redis-server"}
    assert not list(var.rglob("*.sqlite3"))
    assert (var / "redis" / "appendonlydir").exists() or list((var / "redis").glob("*.aof*"))

    booted = datetime.now(UTC)
    alice = _sign_in(base, "alice@acme.test")
    home = alice.get(f"{base}/", timeout=30).text
    assert "<h1>Acme Corp</h1>" in home and "Alice Archer" in home

    # The translation service: its credential in var/, its pages, and its usage
    # (asked its flag over OFREP, reported as CloudEvents) in acme's ledger.
    assert (var / "translation-service.credential").stat().st_mode & 0o777 == 0o600
    wait_for(lambda: _status(f"{translation}/healthz") == 200, 120, "the translation service's /healthz")
    assert "Translation" in requests.get(f"{translation}/docs", timeout=30).text
    assert "Runs as a separate service" in home

    def translated() -> list:
        events = alice.get(
            f"{base}/api/v1/usage/events/",
            params={"capability": "translation", "since": booted.isoformat()},
            timeout=30,
        )
        return events.json()["results"] if events.status_code == 200 else []

    wait_for(translated, 180, "the translation service's usage in acme's ledger")

    # Globex runs Documents' beta, which prices pages on its own meter: the demo's
    # documents it read on the beta are billed there, at the beta's price.
    gina = _sign_in(base, "gina@globex.test")

    def beta_pages() -> int:
        answer = gina.get(f"{base}/api/v1/usage/", params={"group_by": "capability,meter"}, timeout=30)
        rows = answer.json()["rows"] if answer.status_code == 200 else []
        return sum(row["quantity"] for row in rows if row["meter"] == "pages_v1_1_0")

    wait_for(beta_pages, 180, "Globex's pages read on Documents' beta")
    assert "Documents 1.1.0 (beta), Globex:" in log_path.read_text()

    # Documents is on in the demo; switch it on if a future demo leaves it off.
    csrf = alice.cookies["csrftoken"]
    headers = {"X-CSRFToken": csrf, "Referer": f"{base}/"}
    toggled = alice.post(
        f"{base}/capabilities/documents/toggle/",
        data={"enabled": "on", "include_related": "on", "csrfmiddlewaretoken": csrf},
        headers=headers,
        timeout=30,
    )
    assert toggled.status_code in (200, 302)
    wait_for(lambda: _has_subscription(emulator, "Acme Corp"), 120, "acme's subscription on the emulator")
    before = _upcoming_pages(emulator, "Acme Corp")

    text = "Quickstart check: the turbine maintenance memo, one page.\n" * 5
    uploaded = alice.post(
        f"{base}/api/v1/c/documents/documents/",
        files={"files": ("memo.txt", text.encode(), "text/plain")},
        headers=headers,
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    job_url = f"{base}/api/v1/jobs/{uploaded.json()['documents'][0]['job_id']}"

    def job_status() -> str:
        return alice.get(job_url, timeout=30).json()["status"]

    wait_for(lambda: job_status() in ("succeeded", "failed", "refused"), 180, "the worker to read the memo")
    assert job_status() == "succeeded"

    # The quickstart pushes the hour in progress every 30 s (BILLING_PUSH_OPEN_HOUR).
    wait_for(lambda: _upcoming_pages(emulator, "Acme Corp") >= before + 1, 240, "the push to reach Stripe")
    assert _upcoming_pages(emulator, "Acme Corp") == before + 1

    # /billing/ puts Stripe's upcoming invoice beside our estimate: they agree.
    wait_for(
        lambda: "Matches our estimate" in alice.get(f"{base}/billing/", timeout=30).text,
        120,
        "the billing page to show Stripe's invoice matching our estimate",
    )

    # Ctrl-C stops everything, the two servers included.
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=120)
    wait_for(lambda: not servers_running_on(var), 60, "PostgreSQL and Redis to stop")
    assert "PostgreSQL and Redis stopped" in log_path.read_text()


def _has_subscription(emulator: str, organization_name: str) -> bool:
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": emulator}, max_network_retries=0)
    customers = [
        c for c in client.v1.customers.list(params={"limit": 100}).data if c.name == organization_name
    ]
    return bool(customers) and bool(client.v1.subscriptions.list(params={"customer": customers[0].id}).data)


def test_a_server_that_cannot_start_says_why_in_one_line():
    var = Path(tempfile.mkdtemp(prefix="sb-bad-", dir="/tmp"))
    (var / "postgres").mkdir()
    (var / "postgres" / "PG_VERSION").write_text("9\n")  # a data folder of another PostgreSQL
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-m", "embedded_servers", "run", "--var", str(var), "--", "true"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("embedded_servers: PostgreSQL did not start:"), lines[0]
    assert not servers_running_on(var)
    shutil.rmtree(var, ignore_errors=True)
