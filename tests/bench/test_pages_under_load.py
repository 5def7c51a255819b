"""The pages_under_load benchmark's code path, quickly, on the demo's people
with a little usage (the benchmark itself runs on `seed_demo`'s data, which
tests/demo covers): each page's queries counted before and after the rows
are added (and those rows rolled back), and a short load of every page over
signed-in sessions against a real gunicorn. No timing is asserted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench import pages_under_load
from bench.http_server import Server
from capabilities.actions import set_capability_enabled
from capabilities.registry import registry
from metering import ledger, platform
from metering.models import UsageEvent
from portal import demo
from tests.workers import worker_environment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cast() -> demo.Cast:
    """The demo's people, Acme with its capabilities on, a little usage, and
    the finance dashboard's platform days built as beat builds them."""
    cast = demo.ensure_people()
    acme, alice = cast.organizations["acme"], cast.people["alice"]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    records = []
    for capability in (capability for capability in registry() if capability.demo_usage):
        set_capability_enabled(alice, acme, capability.key, enabled=True, include_related=True, reason="test")
        for usage in capability.demo_usage:
            at = now - timedelta(hours=3)
            records.append(
                ledger.UsageRecord(
                    acme.pk, capability.key, usage.meter, 2, at, f"test:{capability.key}:{usage.meter}"
                )
            )
    ledger.ingest(records)
    platform.refresh_days(now.date().replace(day=day) for day in range(1, now.day))
    return cast


def test_no_page_makes_more_queries_with_more_rows(cast):
    counts = pages_under_load.counts_at_two_sizes()

    demo_data, larger = counts["demo"], counts["larger"]
    assert larger["data"]["usage_events"] > demo_data["data"]["usage_events"] + 1000
    assert larger["data"]["organizations"] == demo_data["data"]["organizations"] + 30
    assert larger["data"]["jobs"] == demo_data["data"]["jobs"] + 200
    assert set(demo_data["queries"]) == {"catalog", "usage", "finance", "sign_in"}
    assert larger["queries"] == demo_data["queries"]
    assert UsageEvent.objects.count() == demo_data["data"]["usage_events"]  # the added rows are rolled back


def test_every_page_answers_the_clients_over_their_sessions(cast, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", worker_environment()["DATABASE_URL"])  # the server's database
    pages = [
        pages_under_load.Page(path, pages_under_load.session_cookie(email))
        for path, email in pages_under_load.PAGES.values()
    ]
    pages.append(pages_under_load.Page(pages_under_load.BASELINE[1], ""))

    with Server(workers=1, threads=2) as server:
        for page in pages:
            pages_under_load.load(server.port, page, clients=2, requests=2)

    for page in pages:
        figures = page.figures()
        assert figures["requests"] == 4
        assert 0 < figures["p50"] <= figures["p95"]


def test_a_page_that_does_not_answer_200_fails_the_load(cast, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", worker_environment()["DATABASE_URL"])
    signed_out = pages_under_load.Page("/finance/", "")  # redirects to the sign-in page

    with Server(workers=1, threads=2) as server, pytest.raises(RuntimeError, match="answered 302"):
        pages_under_load.load(server.port, signed_out, clients=2, requests=1)


def test_the_demo_is_not_seeded_into_a_database_crowded_with_other_usage(cast, monkeypatch):
    # The demo's Stripe push would send every organization's usage, one call
    # per hour and meter: with the finance benchmark's 10.8 million events,
    # for hours. The benchmark stops at once and says how to run it.
    monkeypatch.setattr(pages_under_load, "CROWDED", UsageEvent.objects.count() - 1)
    with pytest.raises(SystemExit, match=r"already holds [\d,]+ usage events .* Run it first"):
        pages_under_load.seed_demo()
    assert demo.history_built() is None
