"""Trying a capability's beta from its page and going back to stable; the
jobs started meanwhile say which version they ran."""

import os

import pytest
from playwright.sync_api import Page, expect

from capabilities import actions
from capabilities.models import Job, ReleaseChange

pytestmark = pytest.mark.e2e


def test_alice_tries_the_beta_of_text_recognition_and_goes_back(page: Page, sign_in, alice, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    sign_in(page, "alice@acme.test")
    page.goto("/capabilities/ocr/")
    versions = page.locator("#versions")
    expect(versions).to_contain_text("Your new jobs run version 1.0.0")
    expect(versions).to_contain_text("A new engine that also reads two-column pages.")
    # The beta prices pages differently: said beside it, and before opting in.
    expect(versions.locator(".version-prices")).to_contain_text("$0.005 per page")
    expect(versions).to_contain_text("It is priced differently: $0.005 per page instead of $0.01")

    versions.get_by_role("button", name="Try the beta").click()

    expect(page.locator(".flash-success")).to_contain_text("Text recognition runs version 2.0.0 (beta)")
    expect(versions).to_contain_text("Your new jobs run version 2.0.0")
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOTS"], "versions.png"), full_page=True)
    page.get_by_role("button", name="Start").first.click()
    expect(page.locator("h1")).to_contain_text("Job #")
    expect(page.get_by_text("Runs with version 2.0.0, as queued")).to_be_visible()
    assert Job.objects.get().version == "2.0.0"

    page.goto("/capabilities/ocr/")
    versions.get_by_role("button", name="Back to stable").click()
    expect(versions).to_contain_text("Your new jobs run version 1.0.0")
    expect(page.get_by_role("cell", name="Channel beta → stable: version 2.0.0 → 1.0.0")).to_be_visible()
    assert ReleaseChange.objects.count() == 2
