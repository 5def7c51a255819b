"""Scheduling a capability's switch from its page, in the browser's time zone,
seeing it on the catalog card, and cancelling it."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from capabilities.models import ScheduledSwitch

pytestmark = pytest.mark.e2e

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    """Alice's browser is in Paris: the time she types is meant there."""
    return {**browser_context_args, "timezone_id": "Europe/Paris"}


def test_alice_schedules_text_recognition_on_and_cancels_it(page: Page, sign_in, alice, acme):
    monday = (
        (timezone.now() + timedelta(days=3))
        .astimezone(PARIS)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    sign_in(page, "alice@acme.test")
    page.goto("/capabilities/ocr/")
    section = page.locator("#schedules")
    expect(section).to_contain_text("No switch of Text recognition is scheduled.")

    section.get_by_text("Schedule a switch").click()
    expect(section.locator("select[name=enabled]")).to_have_value("on")  # it is off: the form proposes on
    expect(section).to_contain_text("In your time zone, Europe/Paris")
    section.get_by_role("textbox", name="Date and time").fill(monday.strftime("%Y-%m-%dT%H:%M"))
    section.get_by_label("Reason").fill("Pilot starts")
    section.get_by_role("button", name="Schedule", exact=True).click()

    expect(page.locator(".flash-success")).to_contain_text("Text recognition will be switched on at")
    row = section.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"{monday:%a} {monday.day} {monday:%b %Y}, 09:00 Europe/Paris")
    expect(row).to_contain_text("Pilot starts")
    schedule = ScheduledSwitch.objects.get()
    assert schedule.at == monday and schedule.time_zone == "Europe/Paris"

    page.goto("/")
    expect(page.locator("#cap-ocr")).to_contain_text("Switches on")
    page.locator("#cap-ocr").get_by_role("link", name="Switches on").click()

    page.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name="Cancel the switch on").click()

    expect(section).to_contain_text("No switch of Text recognition is scheduled.")
    expect(section).to_contain_text("Cancelled by alice@acme.test.")
    ScheduledSwitch.objects.get(status=ScheduledSwitch.Status.CANCELLED)
