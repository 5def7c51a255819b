"""A member runs a capability's job from its page and watches it finish, with a
real Celery worker on the capability's own queue; the owner then finds the
job's usage on the usage page.

The live server (a thread of this process) and the worker (a subprocess) share
the test database: the test's rows are committed (transactional database)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from capabilities.actions import set_capability_enabled
from capabilities.models import Job
from metering.models import UsageEvent
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = 90  # seconds for a worker to start and run a five-page job; a deadline, not a speed check


def test_bob_runs_an_ocr_job_and_alice_sees_its_usage(
    page: Page, sign_in, new_context, browser_problems, alice, bob, acme
):
    # Committed, so the toggle's version is bumped on commit for the live server.
    set_capability_enabled(alice, acme, "ocr", enabled=True)

    sign_in(page, "bob@acme.test")
    page.goto("/capabilities/ocr/")
    run = page.locator("section.card", has=page.get_by_role("heading", name="Run a job"))
    expect(run).to_be_visible()
    expect(run).to_contain_text("Recognise pages")
    run.get_by_label("Pages").fill("5")
    run.get_by_role("button", name="Start").click()

    # He lands on the job's page; no worker of cap.ocr runs yet, so it waits.
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    job = Job.objects.get(organization=acme)
    assert page.url.endswith(f"/jobs/{job.pk}/")
    assert (job.capability, job.kind, job.input, job.requested_by) == ("ocr", "recognize", {"pages": 5}, bob)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Job #{job.pk}")
    expect(page.locator(".flash")).to_contain_text(f"Job #{job.pk} is queued.")
    status = page.locator("#job-status [data-status]")
    progress = page.locator("#job-progress")
    expect(status).to_have_attribute("data-status", "queued")
    expect(status).to_have_text("Queued")
    expect(page.locator("#job-status")).to_contain_text("Waiting to start.")
    expect(progress).to_have_attribute("value", "0")
    page.evaluate("window.stillTheSamePage = true")  # gone if anything reloads the page

    # Samples of the bar, starting from the 0 checked above before any worker ran.
    # The job takes milliseconds, so the first sample taken after the worker starts
    # may already be its end: only the order of the samples is checked.
    seen: list[int] = [0]

    def finished() -> bool:
        value = progress.get_attribute("value")
        if value is not None and seen[-1] != int(value):
            seen.append(int(value))
        return status.get_attribute("data-status") in ("succeeded", "failed", "refused", "cancelled")

    with celery_worker(queues="cap.ocr"):
        # The page polls the job's status partial (htmx) and follows the worker.
        wait_for(finished, WORKER_DEADLINE, "the job page to show the job finished")
        expect(status).to_have_attribute("data-status", "succeeded")

    expect(status).to_have_text("Succeeded")
    expect(progress).to_have_attribute("value", "100")
    expect(page.locator("#job-status .job-progress")).to_contain_text("100% · 5 of 5")
    # The bar never went back while it moved. The last sample may be taken before
    # the final swap (the status and the bar are read one after the other), so the
    # end value is checked on the page above.
    assert seen == sorted(seen), f"the progress bar went back: {seen}"
    # The result and the usage it recorded, in the same swapped-in partial.
    expect(page.locator("#job-status")).to_contain_text("recognised")
    usage_rows = page.locator("#job-status table tbody tr")
    expect(usage_rows.filter(has_text="pages")).to_contain_text("5")
    expect(usage_rows.filter(has_text="compute_seconds")).to_have_count(1)
    # The polling stopped with the job: the finished partial has no trigger.
    expect(page.locator("#job-status")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)

    job.refresh_from_db()
    assert (job.status, job.result, job.attempts) == (
        Job.Status.SUCCEEDED,
        {"pages": 5, "text": "recognised"},
        1,
    )
    assert dict(UsageEvent.objects.filter(job_id=job.pk, meter="pages").values_list("meter", "quantity")) == {
        "pages": 5
    }

    # The job is in bob's list of jobs.
    page.goto("/jobs/?capability=ocr")
    expect(page.get_by_role("link", name=f"#{job.pk}")).to_be_visible()

    # Alice, the owner, finds the five pages on the usage page.
    alices_page = browser_problems.watch(new_context()).new_page()
    sign_in(alices_page, "alice@acme.test")
    alices_page.goto("/usage/")
    expect(alices_page.get_by_role("heading", level=1)).to_have_text("Usage")
    pages_row = alices_page.locator("table.usage-table tbody tr").filter(
        has=alices_page.locator("code", has_text=re.compile(r"^pages$"))
    )
    expect(pages_row).to_have_count(1)
    expect(pages_row).to_contain_text("Text recognition")
    expect(pages_row.locator("td").nth(2)).to_have_text("5")  # capability, meter, quantity
