"""Ivan, the IT admin, reads the health page: usage the planner never planned
shows as a push backlog with its oldest hour, not as "Empty"."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Page, expect

from metering import ledger
from metering.moments import hour_of
from tests.billing.conftest import closed_hour

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_ivan_sees_usage_waiting_for_stripe(page: Page, sign_in, settings, ivan, acme):
    settings.STRIPE_SECRET_KEY = ""
    now = timezone.now()  # read once: the health page reads the real clock
    oldest = closed_hour(now, 3)
    with transaction.atomic():
        ledger.append(
            [
                ledger.UsageRecord(acme.pk, "ocr", "pages", 40, oldest, "e2e:health:1"),
                ledger.UsageRecord(acme.pk, "ocr", "pages", 2, closed_hour(now, 2), "e2e:health:2"),
            ]
        )
    sign_in(page, ivan.email)
    page.goto("/manage/health/")

    backlog = page.locator(".stat", has=page.locator(".label", has_text="Push backlog"))
    expect(backlog.locator(".badge")).to_have_text("2 hours waiting")
    expect(backlog).to_contain_text("42 units in 2 organization-meter-hours of 1 organization")
    expect(backlog).to_contain_text(f"Oldest hour: {hour_of(oldest):%Y-%m-%d %H:%M} UTC (")
    expect(backlog).to_contain_text("No push planned yet. It waits until Stripe is configured.")
    last_push = page.locator(".stat", has=page.locator(".label", has_text="Last push"))
    expect(last_push.locator(".badge")).to_have_text("Never")


def test_ivan_scans_the_capabilities_and_alice_sees_the_degraded_one(page: Page, sign_in, ivan, alice, acme):
    from datetime import timedelta

    from capabilities import actions, degraded
    from capabilities.models import Job
    from tests.factories import JobFactory

    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    now = timezone.now()
    for minutes in (12, 3):
        JobFactory(organization=acme, capability="ocr", queued_at=now - timedelta(minutes=minutes))
    for index in range(12):
        status = Job.Status.FAILED if index % 3 else Job.Status.SUCCEEDED
        end = now - timedelta(minutes=2)
        JobFactory(
            organization=acme,
            capability="ocr",
            status=status,
            started_at=end - timedelta(seconds=1 + index),
            finished_at=end,
        )
    degraded.assess_capabilities()

    sign_in(page, ivan.email)
    page.goto("/manage/health/")
    table = page.locator("section.card", has=page.locator("h2", has_text="Capabilities")).locator("table")
    ocr = table.locator("tr", has=page.locator("th", has_text="Text recognition"))
    expect(ocr.locator("td").nth(0)).to_contain_text("Degraded")
    expect(ocr.locator("td").nth(0)).to_contain_text("8 of 12 jobs failed in the last 15 minutes")
    expect(ocr.locator("td").nth(1)).to_contain_text("Oldest waited 12 minutes.")
    expect(ocr.locator("td").nth(4)).to_have_text("4 succeeded, 8 failed")
    expect(
        table.locator("tr", has=page.locator("th", has_text="Glossary")).locator("td").nth(0)
    ).to_contain_text("No worker")

    page.context.clear_cookies()
    sign_in(page, alice.email)
    page.goto("/")
    card = page.locator("#cap-ocr")
    expect(card.locator(".degraded-note")).to_contain_text("Degraded")
    expect(page.locator("#cap-glossary .degraded-note")).to_have_count(0)
    page.goto("/capabilities/ocr/")
    expect(page.locator(".callout-bad")).to_contain_text("Text recognition is degraded.")
