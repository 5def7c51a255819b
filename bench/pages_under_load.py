"""The busiest pages under load: p50/p95 latency of the catalog (`/`), `/usage/`
and `/finance/` with 8 concurrent clients, on the quickstart's demo data,
served by gunicorn (2 gthread workers x 4 threads, keep-alive, loopback).

- The data: `seed_demo`'s (sixty days of Acme and Globex, invoices from the
  offline Stripe emulator run in this process, a reconciliation, documents and
  a report made through their jobs), seeded once into the benchmark database;
  whatever else earlier benchmarks left there stays (the JSON says how many
  organizations and usage events the pages saw).
- The clients: 8 threads, each with its own signed-in session and kept-alive
  connection, sending one page after the other. Acme's owner (alice) opens
  the catalog and `/usage/`, finance (fiona) `/finance/`.
- The baseline, in the same run and the same way: the sign-in page, signed
  out, on the same server: Django rendering the portal's layout and a form,
  reading no data. ours/baseline says what the pages' data costs under load.
- The pages are loaded in turn, round by round, so the machine's drift hits
  them alike.

Also: the queries each page makes (a warm request, in this process), on the
demo data and again after adding rows the pages read (night-hour usage for
Acme and Globex over five weeks, 30 more organizations with usage, 200 more
jobs): no page's count may grow with the rows. The rows are added in a
transaction that is rolled back."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

CLIENTS = 8
ROUNDS = 3
REQUESTS_PER_CLIENT = 15  # per page and round
PAGES = {"catalog": ("/", "alice@acme.test"), "usage": ("/usage/", "alice@acme.test")}
PAGES["finance"] = ("/finance/", "fiona@switchboard.test")
BASELINE = ("sign_in", "/accounts/login/")
EXTRA_ORGANIZATIONS = 30
EXTRA_JOBS = 200
EXTRA_DAYS = 35
NIGHT_HOURS = (0, 1, 2, 3, 4, 5, 6, 19, 20, 21, 22, 23)


@dataclass
class Page:
    """One page loaded by the clients, and its latencies (ns)."""

    path: str
    cookie: str  # "" for the signed-out baseline
    latencies: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "p50": round(statistics.median(ordered) / 1e6, 2),
            "p95": round(statistics.quantiles(ordered, n=20)[18] / 1e6, 2),
            "requests": len(ordered),
        }


def load(port: int, page: Page, *, clients: int, requests: int) -> None:
    """`clients` threads, each on its own kept-alive connection, send
    `requests` GETs of the page one after the other; every answer must be 200."""
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Cookie": page.cookie} if page.cookie else {}
        mine = []
        try:
            start.wait()
            for _ in range(requests):
                began = time.perf_counter_ns()
                connection.request("GET", page.path, headers=headers)
                response = connection.getresponse()
                response.read()
                mine.append(time.perf_counter_ns() - began)
                if response.status != 200:
                    raise RuntimeError(f"{page.path} answered {response.status}")
        except (
            OSError,
            http.client.HTTPException,
            RuntimeError,
        ) as error:  # reported after every thread stops
            with lock:
                errors.append(repr(error))
        finally:
            connection.close()
        with lock:
            page.latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{page.path}: {errors[0]} ({len(errors)} clients failed)")


def seed_demo() -> str:
    """The quickstart's demo data, against an emulator in this process; once."""
    from django.core.management import call_command
    from django.test import override_settings

    from portal import demo
    from stripe_emulator.testing import running_emulator

    if demo.history_built() is not None:
        return "already in place"
    _refuse_a_crowded_database()
    out = StringIO()
    with (
        running_emulator() as emulator,
        override_settings(
            STRIPE_SECRET_KEY=emulator.api_key,
            STRIPE_API_BASE=emulator.url,
            STRIPE_WEBHOOK_SECRET="whsec_bench_pages",  # noqa: S106 (the emulator's, for this run)
            STRIPE_MAX_NETWORK_RETRIES=0,
            BILLING_SETTLING_DELAY=3600,
            BILLING_PUSH_CLOSE_DELAY=300,
        ),
    ):
        started = time.monotonic()
        call_command("seed_demo", stdout=out)
    return f"seeded in {time.monotonic() - started:.0f} s"


# The demo's own history is about 9,000 events; other benchmarks' small runs add
# a few thousand more. The finance dashboard's data set is 10.8 million.
CROWDED = 100_000


def _refuse_a_crowded_database() -> None:
    """The demo's history pushes usage to the emulator as beat would: every
    organization's unpushed usage, one call per organization, meter and hour.
    Seeded after the finance dashboard benchmark's data set, that is hundreds of
    thousands of calls, hours of them. Stop and say so instead."""
    from metering.models import UsageEvent

    events = UsageEvent.objects.count()
    if events > CROWDED:
        raise SystemExit(
            f"pages_under_load seeds the demo into the benchmark database, but it already holds "
            f"{events:,} usage events from other benchmarks: the demo's Stripe push would send every "
            "organization's usage to the emulator, one call per hour and meter, for hours. Run it "
            "first (`make bench` does) or on a fresh database (`--var` a new directory)."
        )


def session_cookie(email: str) -> str:
    """A signed-in session of the person, stored where the server reads it."""
    from django.conf import settings
    from django.test import Client

    from portal.models import User

    client = Client()
    client.force_login(User.objects.get(email=email))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def query_counts() -> dict[str, int]:
    """Queries of each page's second request (after one to warm the session
    and the imports), in this process, with an empty cache. The process's
    short-lived memories (prices for 5 s, toggle snapshots for 0.5 s, each
    reread when its time is up) are emptied before the counted request, so it
    always pays their one query each: whether one ran out between the two
    requests depends on the machine's speed, and the count must not. The
    registry reads its services once, after the cache is emptied (a new stamp),
    and not again."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from billing.price_book import forget_cached_prices
    from capabilities.gate import forget_snapshots
    from capabilities.registry import forget_services, registry
    from portal.models import User

    cache.clear()
    forget_services()
    registry()
    counts = {}
    for name, (path, email) in {**PAGES, BASELINE[0]: (BASELINE[1], "")}.items():
        client = Client()
        if email:
            client.force_login(User.objects.get(email=email))
        assert client.get(path).status_code == 200, path
        forget_cached_prices()
        forget_snapshots()
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200, path
        counts[name] = len(captured)
    return counts


def add_rows() -> dict[str, int]:
    """Rows the pages read, beyond the demo's: night-hour usage of every
    metered capability for Acme and Globex over the last five weeks (new hourly
    rollup rows in the pages' ranges), 30 organizations with such usage (rows
    of the finance dashboard), 200 finished jobs of Acme's."""
    from capabilities.models import Job
    from capabilities.registry import registry
    from metering import ledger, platform
    from portal.models import Organization, User

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    capabilities = [capability for capability in registry() if capability.demo_usage]
    organizations = list(Organization.objects.filter(slug__in=["acme", "globex"]))
    organizations += [
        Organization.objects.create(slug=f"load-{n}", name=f"Load Tenant {n}")
        for n in range(EXTRA_ORGANIZATIONS)
    ]
    records = []
    for organization in organizations:
        for day in range(EXTRA_DAYS):
            midnight = (now - timedelta(days=day)).replace(hour=0)
            for hour in NIGHT_HOURS:
                at = midnight + timedelta(hours=hour, minutes=7)
                if at >= now:
                    continue
                for capability in capabilities:
                    for usage in capability.demo_usage:
                        records.append(
                            ledger.UsageRecord(
                                organization_id=organization.pk,
                                capability=capability.key,
                                meter=usage.meter,
                                quantity=1,
                                occurred_at=at,
                                idempotency_key=f"bench-load:{organization.slug}:{capability.key}:"
                                f"{usage.meter}:{at:%Y-%m-%dT%H}",
                            )
                        )
    events = ledger.ingest(records)
    platform.refresh_days((now - timedelta(days=day)).date() for day in range(1, EXTRA_DAYS))
    acme = organizations[0] if organizations[0].slug == "acme" else organizations[1]
    alice = User.objects.get(email="alice@acme.test")
    jobs = Job.objects.bulk_create(
        Job(
            organization=acme,
            capability=capabilities[n % len(capabilities)].key,
            kind="bench",
            status=Job.Status.SUCCEEDED,
            requested_by=alice,
            queued_at=now - timedelta(minutes=n),
            started_at=now - timedelta(minutes=n),
            finished_at=now - timedelta(minutes=n) + timedelta(seconds=3),
        )
        for n in range(EXTRA_JOBS)
    )
    return {"usage_events": events, "organizations": EXTRA_ORGANIZATIONS, "jobs": len(jobs)}


def data_size() -> dict[str, int]:
    from capabilities.models import Job
    from metering.models import UsageEvent, UsageRollup
    from portal.models import Organization

    return {
        "organizations": Organization.objects.count(),
        "usage_events": UsageEvent.objects.count(),
        "hourly_rollups": UsageRollup.objects.count(),
        "jobs": Job.objects.count(),
    }


def counts_at_two_sizes() -> dict[str, Any]:
    """Each page's queries on the demo data and with the added rows (rolled back)."""
    from django.db import transaction

    demo = {"data": data_size(), "queries": query_counts()}
    with transaction.atomic():
        added = add_rows()
        larger = {"data": data_size(), "added": added, "queries": query_counts()}
        transaction.set_rollback(True)
    return {"demo": demo, "larger": larger}


def run(*, rounds: int = ROUNDS, requests: int = REQUESTS_PER_CLIENT) -> dict[str, Any]:
    from bench.harness import write_result
    from bench.http_server import Server, shared_machine

    seeded = seed_demo()
    counts = counts_at_two_sizes()
    grew = {
        name: (counts["demo"]["queries"][name], counts["larger"]["queries"][name])
        for name in counts["demo"]["queries"]
        if counts["larger"]["queries"][name] > counts["demo"]["queries"][name]
    }
    pages = {name: Page(path, session_cookie(email)) for name, (path, email) in PAGES.items()}
    pages[BASELINE[0]] = Page(BASELINE[1], "")
    with Server() as server:
        for page in pages.values():  # warm up: the workers' imports, templates, snapshots
            load(server.port, page, clients=CLIENTS, requests=2)
            page.latencies.clear()
        for _ in range(rounds):
            for page in pages.values():
                load(server.port, page, clients=CLIENTS, requests=requests)
    figures = {name: page.figures() for name, page in pages.items()}
    slowest = max(PAGES, key=lambda name: figures[name]["p95"])
    result = write_result(
        "pages_under_load",
        metric="p95 latency of the slowest of the catalog, /usage/ and /finance/ with 8 concurrent clients",
        unit="ms",
        ours=figures[slowest]["p95"],
        baseline=figures[BASELINE[0]]["p95"],
        baseline_name=(
            "the sign-in page (signed out: layout and form, no data), same server, same clients, same run"
        ),
        higher_is_better=False,
        target="recorded (no latency target set yet); no page's query count grows with rows",
        runs=rounds,
        slowest_page=slowest,
        pages_ms={name: {**figures[name], "path": page.path} for name, page in pages.items()},
        clients=CLIENTS,
        requests_per_client_per_round=requests,
        server=Server().description,
        machine=shared_machine(),
        demo_data=seeded,
        query_counts=counts,
        query_count_grows=grew,
        meets_target=not grew,
    )
    if grew:
        raise SystemExit(f"Query counts grew with rows (demo, larger): {grew}")
    return result
