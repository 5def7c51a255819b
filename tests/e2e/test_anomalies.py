"""Alice, acme's owner, chooses to hold Text recognition on a spike; a spike is
recorded; Bob's next job is held and says so; Alice sees the spike with its
baseline on the usage page and releases the held job there."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from capabilities.actions import set_capability_enabled
from capabilities.models import Job
from tests.metering.anomaly_data import plant_spike, yesterday

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_alice_holds_on_a_spike_and_releases_bobs_job(
    page: Page, sign_in, new_context, browser_problems, alice, bob, acme
):
    set_capability_enabled(alice, acme, "ocr", enabled=True)

    sign_in(page, "alice@acme.test")
    page.goto("/usage/")
    spikes = page.locator("#anomalies")
    expect(spikes).to_contain_text("No spikes: every closed day was within its usual range.")
    row = spikes.locator("table.holds tr", has_text="Text recognition")
    row.get_by_role("button", name="Hold on a spike").click()
    expect(page.locator(".flash")).to_contain_text("A usage spike of Text recognition now holds its new jobs")
    expect(page.locator("#anomalies table.holds tr", has_text="Text recognition")).to_contain_text(
        "Holds new jobs on a spike"
    )

    plant_spike(acme)  # the daily detection finds yesterday's 4,210 pages against a usual 460

    bob_page = new_context().new_page()
    sign_in(bob_page, "bob@acme.test")
    bob_page.goto("/capabilities/ocr/")
    run = bob_page.locator("section.card", has=bob_page.get_by_role("heading", name="Run a job"))
    run.get_by_label("Pages").fill("2")
    run.get_by_role("button", name="Start").click()
    expect(bob_page).to_have_url(re.compile(r"/jobs/\d+/$"))
    expect(bob_page.locator(".flash")).to_contain_text("is held")
    expect(bob_page.locator("#job-status [data-status]")).to_have_text("Held")
    expect(bob_page.locator("#job-status")).to_contain_text("waits until an owner releases it")
    job = Job.objects.get(organization=acme)
    assert job.status == Job.Status.HELD

    page.goto("/usage/")
    spike = page.locator("#anomalies tr[data-anomaly]")
    expect(spike).to_have_count(1)
    expect(spike).to_contain_text(f"{yesterday().day} {yesterday():%b %Y}")
    expect(spike).to_contain_text("4,210")
    expect(spike).to_contain_text("460")
    expect(spike).to_contain_text("about 9\N{MULTIPLICATION SIGN} the usual day")
    held = page.locator("#held-ocr")
    expect(held).to_contain_text("Text recognition is on hold")
    page.once("dialog", lambda dialog: dialog.accept())
    held.get_by_role("button", name="Release held jobs").click()
    expect(page.locator(".flash")).to_contain_text(
        "Text recognition is no longer held; 1 held job is queued."
    )
    expect(page.locator("#held-ocr")).to_have_count(0)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
