"""Fiona, of finance, reconciles the billing period from the Reconciliation
page: a real Celery worker runs the reconciliation against the offline Stripe
emulator, the page follows its progress (htmx polling) to 100%, and the lines
show acme's usage Stripe lost (missing, re-pushed) and globex's matched.

The live server and this test share a process (and so the emulator and the
settings); the worker is a subprocess and gets the same Stripe settings
through its environment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing import push, sync
from billing.models import ReconciliationLine, ReconciliationRun, UsagePush
from capabilities.actions import set_capability_enabled
from metering import ledger
from metering.periods import billing_period
from portal.models import Organization
from stripe_emulator.testing import EmulatorHandle, running_emulator
from tests.billing.conftest import WEBHOOK_SECRET, closed_hour, point_at
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = 90  # seconds for a worker to start and reconcile; a deadline, not a speed check


@pytest.fixture
def stripe(settings) -> Iterator[EmulatorHandle]:
    """An emulator of our own, and the portal (this process) pointed at it.
    Settled means settled: no settling delay, so the pushes sent just now count."""
    with running_emulator(summary_delay_seconds=0, latency_ms=0, webhook_secret=WEBHOOK_SECRET) as emulator:
        point_at(emulator, settings, settling_delay=0)
        yield emulator


def worker_settings(emulator: EmulatorHandle) -> dict[str, str]:
    """The same settings for the worker subprocess, by environment (portal/settings.py)."""
    return {
        "STRIPE_SECRET_KEY": emulator.api_key,
        "STRIPE_API_BASE": emulator.url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "BILLING_SETTLING_DELAY": "0",
    }


def record_usage(organization: Organization, quantity: int, at: datetime) -> None:
    with transaction.atomic():
        ledger.append(
            [
                ledger.UsageRecord(
                    organization_id=organization.pk,
                    capability="ocr",
                    meter="pages",
                    quantity=quantity,
                    occurred_at=at,
                    idempotency_key=f"e2e:{organization.pk}:{quantity}:{at.isoformat()}",
                )
            ]
        )


def test_finance_runs_a_reconciliation_and_sees_its_lines(
    page: Page, sign_in, stripe, alice, gina, fiona, acme, globex
):
    set_capability_enabled(alice, acme, "ocr", enabled=True)
    set_capability_enabled(gina, globex, "ocr", enabled=True)
    sync.sync_all()
    # A closed hour, in the current period or (just after midnight on the 1st) the last.
    at = closed_hour(timezone.now(), 3)
    # Globex's usage reaches Stripe.
    record_usage(globex, 7, at)
    push.plan()
    assert push.send().sent == 1
    # Acme's is pushed too, but Stripe answers 200 and loses the event.
    record_usage(acme, 30, at)
    record_usage(acme, 12, at + timedelta(minutes=5))
    push.plan()
    stripe.config(drop_next_meter_events=1)
    assert push.send().sent == 1
    assert stripe.state()["meter_events"]["counted"] == 1  # globex's only

    sign_in(page, "fiona@switchboard.test")
    page.get_by_role("link", name="Reconciliation", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reconciliation")
    expect(page.locator("table")).to_contain_text("No reconciliation has run yet.")
    period = billing_period(at).start
    current = billing_period(timezone.now()).start
    label = f"{period:%B %Y} (current)" if period == current else f"{period:%B %Y}"
    page.get_by_label("Billing period").select_option(label=label)
    page.get_by_role("button", name="Reconcile now").click()

    # She lands on the run's page; no worker runs yet, so it waits in the queue.
    expect(page).to_have_url(re.compile(r"/finance/reconciliations/\d+/$"))
    run = ReconciliationRun.objects.get()
    assert page.url.endswith(f"/finance/reconciliations/{run.pk}/")
    assert (run.period_start, run.triggered_by, run.status) == (
        period,
        fiona,
        ReconciliationRun.Status.QUEUED,
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Reconciliation #{run.pk}: {period:%B %Y}")
    expect(page.locator(".flash")).to_contain_text(f"Reconciliation #{run.pk} of {period:%B %Y} started.")
    status = page.locator("#run-status")
    progress = page.locator("#run-progress")
    expect(status).to_contain_text("Queued")
    expect(progress).to_have_attribute("value", "0")
    expect(status).to_have_attribute("hx-trigger", "every 1s")
    page.evaluate("window.stillTheSamePage = true")  # gone if anything reloads the page

    # Samples of the bar, starting from the 0 checked above before any worker ran
    # (a quick run may already be done by the first sample after the worker starts).
    seen: list[int] = [0]

    def finished() -> bool:
        value = progress.get_attribute("value")
        if value is not None and seen[-1] != int(value):
            seen.append(int(value))
        return value == "100" and "Done" in (status.text_content() or "")

    with celery_worker(queues="celery", env=worker_settings(stripe)):
        # The page polls the run's status partial and follows the worker.
        wait_for(finished, WORKER_DEADLINE, "the run's page to show the run done")

    assert seen[-1] == 100
    assert seen == sorted(seen), f"the progress bar went back: {seen}"
    assert page.evaluate("window.stillTheSamePage") is True
    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.DONE
    assert (run.matched, run.missing, run.excess, run.unexplained, run.settling) == (1, 1, 0, 0, 0)
    expect(status).to_contain_text(f"Done · {run.progress_total} of {run.progress_total} organization-meters")
    counts = status.locator(".run-counts")
    expect(counts.locator(".stat", has_text="Matched").locator(".value")).to_have_text("1")
    expect(counts.locator(".stat", has_text="Missing in Stripe").locator(".value")).to_have_text("1")
    expect(counts.locator(".stat", has_text="Excess in Stripe").locator(".value")).to_have_text("0")
    # The polling stopped with the run: the finished partial has no trigger.
    expect(status).not_to_have_attribute("hx-trigger", re.compile(".*"))

    status.get_by_role("link", name="Show the lines").click()
    expect(page).to_have_url(re.compile(rf"/finance/reconciliations/{run.pk}/$"))
    lines = page.locator("section.card", has=page.get_by_role("heading", name="Lines")).locator("tbody tr")
    expect(lines).to_have_count(2)
    missing = lines.filter(has_text="Acme Corp")
    expect(missing).to_contain_text("Missing in Stripe")
    expect(missing).to_contain_text("Re-pushed the difference")
    expect(missing).to_contain_text("Re-pushed 42 units")
    expect(missing.locator("td").nth(4)).to_have_text("42")  # Switchboard
    expect(missing.locator("td").nth(5)).to_have_text("0")  # Stripe
    expect(missing.locator("td").nth(6)).to_have_text("-42")
    matched = lines.filter(has_text="Globex")
    expect(matched).to_contain_text("Matched")
    expect(matched).to_contain_text("None needed")
    expect(matched.locator("td").nth(6)).to_have_text("0")
    expect(page.locator("#run-status")).not_to_contain_text("Show the lines")

    # The worker sent acme's lost push again under its own identifier (Stripe
    # would not count it twice had it been only late), and Stripe has it now.
    [line] = run.lines.filter(status=ReconciliationLine.Status.MISSING)
    assert (line.organization, line.action) == (acme, ReconciliationLine.Action.REPUSHED)
    assert not UsagePush.objects.filter(source=UsagePush.Source.RECONCILIATION).exists()
    resent = UsagePush.objects.get(organization=acme)
    assert (resent.quantity, resent.status) == (42, UsagePush.Status.SENT) and resent.resent_at
    assert resent.identifier in line.detail
    assert stripe.state()["meter_events"]["counted"] == 2
