"""Switching capabilities on and off in the catalog, and what that does for
the people who use them."""

import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from capabilities.actions import set_capability_enabled
from capabilities.gate import bump_version
from capabilities.registry import registry
from portal.models import Organization, User
from tests.factories import OrganizationFactory
from tests.metering.usage_data import record

pytestmark = pytest.mark.e2e


def sidebar(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Main navigation")


def card(page: Page, key: str) -> Locator:
    return page.locator(f"#cap-{key}")


def switch_on_summaries(actor: User, organization: Organization) -> None:
    """The state an owner leaves behind, written directly; the live server
    shares this process, so announce the change to its snapshot too."""
    set_capability_enabled(actor, organization, "summaries", enabled=True, include_related=True)
    bump_version(organization.pk)


def test_alice_switches_summaries_on_with_text_recognition(page: Page, sign_in, alice):
    sign_in(page, "alice@acme.test")
    summaries, ocr = card(page, "summaries"), card(page, "ocr")
    expect(summaries.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(ocr.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(sidebar(page).get_by_role("link", name="Summaries")).to_have_count(0)

    summaries.get_by_role("switch", name="Switch on Summaries").click()

    # Nothing changes before she confirms: the panel states what she agrees to.
    panel = summaries.locator(".confirm-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Switch on Summaries?")
    expect(panel).to_contain_text("$0.05 per summary")
    expect(panel).to_contain_text("It needs Text recognition")
    expect(panel).to_contain_text("which will be switched on too.")
    expect(panel).to_contain_text("$0.01 per page")  # the price of what comes along
    expect(summaries.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(ocr.get_by_role("switch")).to_have_attribute("aria-checked", "false")

    panel.get_by_label("Reason").fill("Monthly reports")
    with page.expect_response(lambda r: r.request.method == "POST") as switched:
        panel.get_by_role("button", name="Switch on all").click()
    assert switched.value.status == 200

    expect(page.locator("#catalog .flash")).to_have_text("Switched on: Summaries, Text recognition.")
    expect(summaries.get_by_role("switch", name="Switch off Summaries")).to_have_attribute(
        "aria-checked", "true"
    )
    expect(ocr.get_by_role("switch", name="Switch off Text recognition")).to_have_attribute(
        "aria-checked", "true"
    )
    expect(summaries.locator(".confirm-panel")).to_have_count(0)

    # And after a reload, the same state comes from the server.
    page.reload()
    expect(page.get_by_text(f"2 of {len(registry())} capabilities switched on.")).to_be_visible()
    summaries_link = sidebar(page).get_by_role("link", name="Summaries", exact=True)
    expect(summaries_link).to_be_visible()

    summaries_link.click()

    expect(page).to_have_url(re.compile(r"/c/summaries/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Summaries home")


def test_the_sidebar_follows_a_switch_without_a_reload(page: Page, sign_in, alice):
    sign_in(page, "alice@acme.test")
    summaries = card(page, "summaries")
    summaries.get_by_role("switch", name="Switch on Summaries").click()
    summaries.get_by_role("button", name="Switch on all").click()
    expect(page.locator("#catalog .flash")).to_have_text("Switched on: Summaries, Text recognition.")

    expect(sidebar(page).get_by_role("link", name="Summaries", exact=True)).to_be_visible()
    expect(page.get_by_text(f"2 of {len(registry())} capabilities switched on.")).to_be_visible()


@pytest.mark.parametrize("email", ["bob@acme.test", "carol@acme.test"], ids=["member", "billing"])
def test_members_see_summaries_on_and_use_it_but_cannot_switch(
    page: Page, sign_in, acme, alice, bob, carol, email
):
    switch_on_summaries(alice, acme)

    sign_in(page, email)

    expect(card(page, "summaries").locator(".badge")).to_have_text("On")
    expect(card(page, "ocr").locator(".badge")).to_have_text("On")
    expect(card(page, "glossary").locator(".badge")).to_have_text("Off")
    expect(page.get_by_role("switch")).to_have_count(0)
    expect(
        page.get_by_text("Owners and admins switch capabilities; you can use the ones that are on.")
    ).to_be_visible()

    sidebar(page).get_by_role("link", name="Summaries", exact=True).click()

    expect(page).to_have_url(re.compile(r"/c/summaries/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Summaries home")


def test_bob_finds_switched_off_summaries_closed(page: Page, sign_in, alice, bob):
    sign_in(page, "bob@acme.test")
    expect(card(page, "summaries").locator(".badge")).to_have_text("Off")
    expect(sidebar(page).get_by_role("link", name="Summaries", exact=True)).to_have_count(0)

    response = page.goto("/c/summaries/")

    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Summaries is switched off")
    expect(page.get_by_text("An owner or admin of your organization can switch it on.")).to_be_visible()
    expect(page.get_by_text("Summaries home")).to_have_count(0)
    expect(sidebar(page).get_by_role("link", name="Summaries", exact=True)).to_have_count(0)


def test_alice_switches_the_free_glossary_on_at_once_and_off_with_confirmation(page: Page, sign_in, alice):
    sign_in(page, "alice@acme.test")
    glossary = card(page, "glossary")
    expect(glossary).to_contain_text("Included at no charge.")

    # Free, no dependencies: one click switches it on, no panel in between.
    with page.expect_response(lambda r: r.request.method == "POST") as switched_on:
        glossary.get_by_role("switch", name="Switch on Glossary").click()
    assert switched_on.value.status == 200

    expect(page.locator("#catalog .flash")).to_have_text("Switched on: Glossary.")
    expect(glossary.get_by_role("switch", name="Switch off Glossary")).to_have_attribute(
        "aria-checked", "true"
    )
    expect(page.locator(".confirm-panel")).to_have_count(0)

    # Switching off asks first; Cancel changes nothing.
    glossary.get_by_role("switch", name="Switch off Glossary").click()
    panel = glossary.locator(".confirm-panel")
    expect(panel).to_contain_text("Switch off Glossary?")
    panel.get_by_role("button", name="Cancel").click()
    expect(panel).to_have_count(0)
    expect(glossary.get_by_role("switch")).to_have_attribute("aria-checked", "true")

    glossary.get_by_role("switch", name="Switch off Glossary").click()

    expect(panel).to_contain_text("Switch off Glossary?")
    expect(panel).to_contain_text("jobs already running finish")
    expect(panel).not_to_contain_text("billed")  # Glossary is free
    expect(glossary.get_by_role("switch")).to_have_attribute("aria-checked", "true")

    panel.get_by_role("button", name="Switch off", exact=True).click()

    expect(page.locator("#catalog .flash")).to_have_text("Switched off: Glossary.")
    expect(glossary.get_by_role("switch", name="Switch on Glossary")).to_have_attribute(
        "aria-checked", "false"
    )
    expect(glossary.locator(".confirm-panel")).to_have_count(0)


# --- what it would cost -----------------------------------------------------------

# Screenshots of the confirmation, for people to look at (not asserted on).
SHOTS = Path(tempfile.gettempdir()) / "shots-estimate"


def test_alice_sees_what_text_recognition_would_cost_before_switching_it_on(page: Page, sign_in, alice, acme):
    record(acme, 1240, at=timezone.now() - timedelta(days=3))  # 1,240 pages at $0.01 last week

    sign_in(page, "alice@acme.test")
    card(page, "ocr").get_by_role("switch", name="Switch on Text recognition").click()

    panel = card(page, "ocr").locator(".confirm-panel")
    expect(panel).to_contain_text("Switch on Text recognition?")
    expect(panel.locator(".estimate")).to_have_text(
        "About $12.40 a month, from your own use over the last 30 days."
    )
    panel.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "own-use.png", full_page=True)

    # Summaries: acme never made any, and no organization to compare with.
    page.goto("/capabilities/summaries/toggle/?enabled=1")
    expect(page.locator(".estimate")).to_contain_text(
        "No estimate yet: Acme Corp has not used Summaries in the last 30 days"
    )
    expect(page.locator(".confirm-panel")).to_contain_text("about $12.40 a month")  # text recognition
    page.screenshot(path=SHOTS / "no-estimate.png", full_page=True)


def test_alice_sees_the_median_of_similar_organizations_and_what_comes_along(
    page: Page, sign_in, alice, acme
):
    record(acme, 250, at=timezone.now() - timedelta(days=3))  # text recognition: $2.50
    for summaries in (40, 60, 80, 100, 120):  # five small organizations made summaries ($0.05 each)
        record(
            OrganizationFactory(),
            summaries,
            capability="summaries",
            meter="summaries",
            at=timezone.now() - timedelta(days=2),
        )

    sign_in(page, "alice@acme.test")
    card(page, "summaries").get_by_role("switch", name="Switch on Summaries").click()

    panel = card(page, "summaries").locator(".confirm-panel")
    expect(panel.locator(".estimate")).to_have_text(
        "About $4.00 a month, from the median of 5 similar organizations over the last 30 days."
    )
    expect(panel).to_contain_text("Text recognition ($0.01 per page; about $2.50 a month)")
    panel.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "peers.png", full_page=True)
