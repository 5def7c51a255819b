"""Bob, a member of acme, asks for Documents from its page; Alice, the owner,
sees the request counted in her navigation, approves it with a note, and Bob
sees Documents on, with her note, and is emailed."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from capabilities.models import FeatureToggle

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_bob_requests_documents_alice_approves_with_a_note_and_bob_sees_it_on(
    page: Page, sign_in, new_context, browser_problems, alice, bob, acme
):
    sign_in(page, "bob@acme.test")
    page.goto("/capabilities/documents/")
    page.get_by_role("link", name="Ask for Documents").click()
    expect(page).to_have_url(re.compile(r"/requests/new/\?capability=documents$"))
    expect(page.get_by_text("Ask to switch on Documents")).to_be_visible()
    page.get_by_label("Why do you need it?").fill("Extract invoice totals for the March close")
    page.get_by_role("button", name="Send request").click()

    expect(page).to_have_url(re.compile(r"/requests/$"))
    expect(page.locator(".flash")).to_contain_text("Request sent")
    expect(page.locator(".request")).to_contain_text("Extract invoice totals for the March close")
    expect(page.locator(".request")).to_contain_text("Waiting for a decision")
    assert "Bob Baker asks to switch on Documents" in mail.outbox[-1].subject

    alice_page = browser_problems.watch(new_context()).new_page()
    sign_in(alice_page, "alice@acme.test")
    requests_link = alice_page.get_by_role("complementary", name="Main navigation").get_by_role(
        "link", name=re.compile(r"^Requests")
    )
    expect(requests_link.locator(".nav-count")).to_have_text("1")
    requests_link.click()
    request = alice_page.locator(".request", has_text="Documents")
    expect(request).to_contain_text("Asked by Bob Baker")
    request.get_by_label("Note to Bob Baker").fill("Approved for the March close")
    request.get_by_role("button", name="Approve and switch on").click()
    expect(alice_page.locator(".flash")).to_contain_text(
        "Approved: Documents is switched on, and Bob Baker is told."
    )
    expect(alice_page.get_by_text("Nothing waits for a decision")).to_be_visible()
    expect(requests_link.locator(".nav-count")).to_have_count(0)
    assert FeatureToggle.objects.get(organization=acme, capability_key="documents").enabled

    page.goto("/requests/?status=decided")
    decided = page.locator(".request", has_text="Documents")
    expect(decided).to_contain_text("Approved by Alice Archer")
    expect(decided).to_contain_text("“Approved for the March close”")
    page.goto("/")
    expect(page.locator("#cap-documents .badge")).to_have_text("On")
    expect(
        page.get_by_role("complementary", name="Main navigation").get_by_role(
            "link", name="Documents", exact=True
        )
    ).to_be_visible()
    assert mail.outbox[-1].to == ["bob@acme.test"] and "was approved" in mail.outbox[-1].subject
