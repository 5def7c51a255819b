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
