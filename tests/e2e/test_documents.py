"""Bob uploads a PDF and a Word file from the Documents page; a real worker on
cap.documents reads them; he searches, sees the highlighted snippet and opens
the page of the hit. The live server (a thread of this process) and the worker
(a subprocess) share the test database and the media folder."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from capabilities.actions import set_capability_enabled
from capabilities.documents.models import Document
from capabilities.models import Job
from metering.models import UsageEvent
from tests.capabilities.documents import samples
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = 90  # seconds for a worker to start and read two files; a deadline, not a speed check


def test_bob_uploads_a_pdf_and_a_docx_and_searches_them(
    page: Page, sign_in, alice, bob, acme, settings, tmp_path
):
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    set_capability_enabled(alice, acme, "documents", enabled=True)

    sign_in(page, "bob@acme.test")
    page.goto("/c/documents/")
    expect(page.get_by_role("heading", name="Documents", level=1)).to_be_visible()
    page.get_by_label("Files").set_input_files(
        [
            {
                "name": "maintenance.pdf",
                "mimeType": "application/pdf",
                "buffer": samples.pdf("Contents", "Grease the turbine bearings every spring."),
            },
            {
                "name": "contract.docx",
                "mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "buffer": samples.docx_file("This agreement is made between Acme Corp and Globex Inc."),
            },
        ]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash")).to_contain_text("2 documents are uploaded; their text is being read.")
    expect(page.get_by_role("link", name="maintenance.pdf")).to_be_visible()
    expect(page.get_by_role("link", name="contract.docx")).to_be_visible()

    def all_finished() -> bool:
        return not Job.objects.filter(
            organization=acme, capability="documents", status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
        ).exists()

    with celery_worker(queues="cap.documents", env={"MEDIA_ROOT": str(media)}):
        wait_for(all_finished, WORKER_DEADLINE, "both extraction jobs to finish")

    page.reload()
    expect(page.locator('[data-status="succeeded"]')).to_have_count(2)
    pdf = Document.objects.get(name="maintenance.pdf")
    assert pdf.page_count == 2
    pages_billed = UsageEvent.objects.filter(organization=acme, meter="pages").values_list(
        "quantity", flat=True
    )
    assert sorted(pages_billed) == [1, 2]  # the Word file's one page, the PDF's two

    # The Word file's page shows the parties found beside its text.
    page.get_by_role("link", name="contract.docx").click()
    fields = page.get_by_role("region", name="Key fields")
    expect(fields).to_contain_text("Acme Corp")
    expect(fields).to_contain_text("Globex Inc")

    # Search from the Documents page: a ranked hit with the word marked.
    page.goto("/c/documents/")
    page.get_by_role("search").get_by_label("Search").fill("turbine")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/c/documents/search/\?q=turbine$"))
    hit = page.locator(".documents-hit").first
    expect(hit.locator("mark")).to_have_text("turbine")
    expect(hit).to_contain_text("Grease the turbine bearings")

    # The hit opens the page it is on, the word marked there too.
    hit.get_by_role("link", name="maintenance.pdf · page 2").click()
    expect(page).to_have_url(re.compile(rf"/c/documents/{pdf.pk}/pages/2/\?q=turbine$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("maintenance.pdf · page 2")
    expect(page.locator("#page-text mark")).to_have_text("turbine")
    assert UsageEvent.objects.filter(organization=acme, meter="searches").count() == 1
