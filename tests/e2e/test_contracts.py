"""Alice uploads a contract from the Documents page; a real worker reads it
and the contract tracker analyses it on its own queue; she finds it in the
tracker with its notice deadline, opens it, and follows a citation to the
document. The live server and the worker share the test database and media."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from capabilities.actions import set_capability_enabled
from capabilities.contracts.models import Contract
from capabilities.models import Job
from tests.capabilities.contracts.conftest import EVAL
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = 90  # seconds for a worker to start, extract and analyse; a deadline, not a speed check


def test_alice_uploads_a_contract_and_sees_its_notice_deadline(
    page: Page, sign_in, alice, acme, settings, tmp_path
):
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    set_capability_enabled(alice, acme, "documents", enabled=True)
    set_capability_enabled(alice, acme, "contracts", enabled=True)

    sign_in(page, "alice@acme.test")
    page.goto("/c/contracts/")
    expect(page.get_by_role("heading", name="No contracts yet")).to_be_visible()
    page.goto("/c/documents/")
    page.get_by_label("Files").set_input_files(
        [
            {
                "name": "imaging-services.txt",
                "mimeType": "text/plain",
                "buffer": (EVAL / "01-imaging-services.txt").read_bytes(),
            }
        ]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash")).to_contain_text("imaging-services.txt is uploaded")

    def analysed() -> bool:
        return Job.objects.filter(
            organization=acme, capability="contracts", kind="analyse", status=Job.Status.SUCCEEDED
        ).exists()

    with celery_worker(queues="cap.documents,cap.contracts", env={"MEDIA_ROOT": str(media)}):
        wait_for(analysed, WORKER_DEADLINE, "the extraction and the analysis")

    contract = Contract.objects.get(organization=acme)
    # The first term's deadline as read; the table shows the next one not yet
    # passed (the same, or a renewal term's, depending on today's date).
    assert contract.notice_deadline == date(2025, 12, 30)
    assert contract.next_notice_deadline is not None
    page.goto("/c/contracts/")
    row = page.locator("#contracts-table tbody tr").filter(has_text="imaging-services.txt")
    expect(row).to_contain_text(contract.next_notice_deadline.isoformat())
    expect(row).to_contain_text("Acme Health Ltd")
    row.get_by_role("link", name="imaging-services.txt").click()
    expect(page.locator("#contract-deadline")).to_contain_text(f"{contract.next_notice_deadline:%-d %B %Y}")
    notice = page.locator("#field-notice_period_days")
    expect(notice).to_contain_text("60 days")
    expect(notice).to_contain_text("at least sixty (60) days' written notice")
    notice.get_by_role("link", name="Page 1").click()
    expect(page).to_have_url(re.compile(r"/c/documents/\d+/\?page=1&start=\d+&end=\d+#page-1$"))
    expect(page.get_by_role("heading", name="imaging-services.txt", level=1)).to_be_visible()
