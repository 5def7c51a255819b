"""Alice uploads a contract, a real worker reads and indexes it, she asks
when it can be ended, and the citation opens the page with the quoted span
highlighted; a question it does not answer gets "No answer found", and a near
miss (another company's agreement) says why and marks the sentence that came
closest, which opens highlighted on its page."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import Page, expect

from capabilities.actions import set_capability_enabled
from capabilities.documents import actions as documents
from capabilities.models import Job
from tests.capabilities.documents import samples
from tests.capabilities.qa.conftest import SERVICES_AGREEMENT, run_queued
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Screenshots of the pages, for people to look at (not asserted on).
SHOTS = Path(tempfile.gettempdir()) / "shots-qa"
WORKER_DEADLINE = 120  # seconds for a worker to start, extract and index; a deadline, not a speed check


def test_alice_asks_her_contract_and_follows_the_citation(
    page: Page, sign_in, alice, acme, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    set_capability_enabled(alice, acme, "qa", enabled=True, include_related=True)
    contract = tmp_path / "harborview-msa.pdf"
    contract.write_bytes(samples.pdf(*SERVICES_AGREEMENT.split("\n\n", 2)[1:]))

    sign_in(page, "alice@acme.test")
    page.goto("/c/qa/")
    expect(page.get_by_role("heading", name="Nothing to ask yet")).to_be_visible()
    page.screenshot(path=SHOTS / "empty.png", full_page=True)

    with celery_worker(queues="cap.documents,cap.qa", env={"MEDIA_ROOT": str(settings.MEDIA_ROOT)}):
        page.goto("/c/documents/")
        page.get_by_label("Files").set_input_files([contract])
        page.get_by_role("button", name="Upload").click()
        wait_for(
            lambda: Job.objects.filter(capability="qa", status__in=Job.FINISHED).exists(),
            WORKER_DEADLINE,
            "the contract to be read and indexed",
        )
    assert Job.objects.get(capability="qa").status == Job.Status.SUCCEEDED

    page.goto("/c/qa/")
    page.get_by_label("Your question").fill("How much notice do we need to give to terminate the agreement?")
    page.get_by_role("button", name="Ask").click()
    answer = page.locator("#answer")
    expect(answer.get_by_role("heading", name="Answer")).to_be_visible()
    expect(answer.locator(".qa-answer-text")).to_contain_text("ninety (90) days")
    page.screenshot(path=SHOTS / "answer.png", full_page=True)

    answer.locator("a.qa-cite").first.click()
    expect(page).to_have_url(re.compile(r"/c/documents/\d+/pages/\d+/\?start=\d+&end=\d+#quote$"))
    quote = page.locator("mark#quote")
    expect(quote).to_contain_text("ninety (90) days")
    expect(quote).to_be_in_viewport()
    page.screenshot(path=SHOTS / "highlight.png", full_page=True)

    # A question the contract does not answer: no answer, the nearest passages, not billed.
    page.goto("/c/qa/")
    expect(page.locator(".qa-recent")).to_contain_text("How much notice do we need")
    page.get_by_label("Your question").fill("What is the capital of France?")
    page.get_by_role("button", name="Ask").click()
    expect(page.get_by_role("heading", name="No answer found in your documents")).to_be_visible()
    expect(page.locator(".qa-nearest li").first).to_contain_text("harborview-msa.pdf")
    page.screenshot(path=SHOTS / "no-answer.png", full_page=True)

    # A near miss: the notice clause scores well, but the contract is not the
    # one asked about; no answer, and the reason in words.
    page.get_by_label("Your question").fill("How much notice must we give to end the Globex agreement?")
    page.get_by_role("button", name="Ask").click()
    expect(page.get_by_role("heading", name="No answer found in your documents")).to_be_visible()
    expect(page.locator("#answer")).to_contain_text("The passages that come closest never mention “Globex”.")
    # Each nearest passage marks its closest sentence; its link opens the page
    # with that sentence highlighted, for Alice to judge.
    notice = page.locator("mark.qa-closest", has_text="ninety (90) days")
    expect(notice.first).to_be_visible()
    page.screenshot(path=SHOTS / "near-miss.png", full_page=True)
    page.locator(".qa-nearest li", has=notice).first.get_by_role("link").click()
    expect(page.locator("mark#quote")).to_contain_text("ninety (90) days")


def test_a_question_asked_joins_the_recent_questions_without_a_reload(
    page: Page, sign_in, alice, acme, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    set_capability_enabled(alice, acme, "qa", enabled=True, include_related=True)
    # Read and indexed by the in-process runner, as a worker would: this test is about the page.
    documents.upload_documents(alice, acme, [SimpleUploadedFile("msa.txt", SERVICES_AGREEMENT.encode())])
    run_queued(acme, "documents")
    run_queued(acme, "qa")

    sign_in(page, "alice@acme.test")
    page.goto("/c/qa/")
    expect(page.get_by_text("No questions yet.")).to_be_visible()
    # A marker on the window: a full reload would lose it.
    page.evaluate("window.stillTheSamePage = true")

    page.get_by_label("Your question").fill("How much notice do we need to give to terminate the agreement?")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator("#answer").get_by_role("heading", name="Answer")).to_be_visible()
    recent = page.locator("#recent-questions .qa-recent li")
    expect(recent).to_have_count(1)
    expect(recent.first).to_contain_text("How much notice do we need")
    expect(recent.first).to_contain_text("ninety (90) days")

    page.get_by_label("Your question").fill("What is the capital of France?")
    page.get_by_role("button", name="Ask").click()
    expect(page.get_by_role("heading", name="No answer found in your documents")).to_be_visible()
    expect(recent).to_have_count(2)
    expect(recent.first).to_contain_text("What is the capital of France?")
    expect(recent.first).to_contain_text("No answer found")
    assert page.evaluate("window.stillTheSamePage") is True
    page.screenshot(path=SHOTS / "recent-refreshed.png", full_page=True)
