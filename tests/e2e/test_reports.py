"""Bob builds an annual sales report from three monthly spreadsheets (made
here with openpyxl and csv), with a real Celery worker on cap.reports, and
reads its totals and charts.

The live server (a thread of this process) and the worker (a subprocess)
share the test database and a media folder for the uploads."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from capabilities.actions import set_capability_enabled
from capabilities.reports.models import Report
from metering.models import UsageEvent
from tests.capabilities.reports.conftest import csv_bytes, month_rows, xlsx_bytes
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = 90  # seconds for a worker to start and build; a deadline, not a speed check


def test_bob_builds_a_report_from_three_months_and_opens_it(
    page: Page, sign_in, alice, bob, acme, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    set_capability_enabled(alice, acme, "reports", enabled=True)
    files = {
        "january.xlsx": xlsx_bytes(month_rows(1)),
        "february.csv": csv_bytes(month_rows(2)),
        "march.xlsx": xlsx_bytes(month_rows(3)),
    }
    paths = []
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        paths.append(path)

    sign_in(page, "bob@acme.test")
    page.goto("/c/reports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sales reports")
    page.get_by_label("Name").fill("Sales Q1 2025")
    page.get_by_label("Spreadsheets").set_input_files(paths)
    page.get_by_role("button", name="Upload").click()

    # The mapping page: the columns are suggested from the headers, the first rows shown.
    expect(page.get_by_role("heading", level=1)).to_have_text("Sales Q1 2025")
    expect(page.locator(".flash")).to_contain_text("Check the column mapping")
    expect(page.get_by_label("Region")).to_have_value("Sales Region")
    expect(page.get_by_label("Units")).to_have_value("Qty")
    expect(page.get_by_label("Revenue")).to_have_value("Amount (USD)")
    expect(page.locator("table.preview-table")).to_have_count(3)
    expect(page.locator("table.preview-table").first).to_contain_text("North")
    page.get_by_role("button", name="Confirm mapping").click()
    expect(page.locator(".flash")).to_contain_text("Mapping saved")
    page.get_by_role("button", name="Build report").click()

    expect(page).to_have_url(re.compile(r"/c/reports/\d+/$"))
    report = Report.objects.get(organization=acme)
    status = page.locator("#report-status [data-status]")
    expect(status).to_have_attribute("data-status", "queued")

    with celery_worker(queues="cap.reports", env={"MEDIA_ROOT": str(settings.MEDIA_ROOT)}):
        # The status partial polls (htmx); once built, the whole report page loads.
        wait_for(
            lambda: (
                page.locator("#total-revenue").count() == 1
                or "failed" in (status.get_attribute("data-status") or "")
            ),
            WORKER_DEADLINE,
            "the report to be built",
        )

    expect(page.locator("#total-revenue")).to_have_text("$541.50")
    expect(page.locator("#total-units")).to_have_text("48")
    chart = page.locator("figure.usage-chart svg.chart").first
    expect(chart).to_be_visible()
    expect(chart.locator("rect")).to_have_count(9)  # three months x three regions
    expect(page.locator("#by-region tbody tr").first).to_contain_text("North")
    expect(page.locator("#top-skus li").first).to_contain_text("A-100")
    expect(page.locator("#flags")).to_contain_text("East")
    expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download XLSX").click()
    assert download.value.suggested_filename == f"report-{report.pk}-sales-q1-2025.xlsx"

    usage = dict(
        UsageEvent.objects.filter(job_id=report.job_id)
        .exclude(meter="compute_seconds")
        .values_list("meter", "quantity")
    )
    assert usage == {"reports": 1, "rows": 9}
