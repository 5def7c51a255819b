"""Alice (owner) finds a budget alert in the banner of every page, follows
its link, and dismisses it in place (htmx); Carol (billing) still sees it.
Then Alice sets the alerts webhook on the settings page: a bad address
first, then a real one, and copies the signing secret shown once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from portal import alerts
from portal.models import Alert, AlertDismissal, AlertWebhook

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _budget_alert(organization) -> Alert:
    alert = alerts.raise_alert(
        organization,
        key="budget:1:80:2026-12",
        kind=Alert.Kind.BUDGET,
        level=Alert.Level.WARNING,
        title="80 % of the monthly budget used",
        message="Acme Corp has used $80.00 of its $100.00 budget for December.",
        url="/usage/",
    )
    assert alert is not None
    return alert


def test_alice_dismisses_an_alert_carol_still_sees_it(
    page: Page, sign_in, browser, live_server, alice, carol, acme, browser_problems, tmp_path
):
    alert = _budget_alert(acme)
    sign_in(page, "alice@acme.test")
    page.goto("/members/")
    banner = page.locator(f"#alert-{alert.pk}")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("80 % of the monthly budget used")
    expect(banner).to_contain_text("used $80.00 of its $100.00 budget")
    page.screenshot(path=tmp_path / "alert-banner.png", full_page=True)

    banner.get_by_role("link", name="See what to do").click()
    expect(page).to_have_url(f"{live_server.url}/usage/")
    banner = page.locator(f"#alert-{alert.pk}")
    expect(banner).to_be_visible()  # on every page
    banner.get_by_role("button", name="Dismiss").click()
    expect(banner).to_have_count(0)  # swapped out in place
    page.reload()
    expect(page.locator(f"#alert-{alert.pk}")).to_have_count(0)
    assert AlertDismissal.objects.filter(alert=alert, user=alice).count() == 1

    context = browser.new_context(base_url=live_server.url)
    browser_problems.watch(context)
    carols = context.new_page()
    sign_in(carols, "carol@acme.test")
    carols.goto("/billing/")
    expect(carols.locator(f"#alert-{alert.pk}")).to_be_visible()
    context.close()


def test_alice_sets_the_alerts_webhook(page: Page, sign_in, alice, acme, browser_problems, tmp_path):
    sign_in(page, "alice@acme.test")
    page.goto("/")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Alerts webhook")).to_be_visible()

    page.get_by_label("Webhook URL").fill("hooks.example.com")
    page.get_by_role("button", name="Save webhook").click()
    expect(page.get_by_text("is not a valid webhook URL")).to_be_visible()

    page.get_by_label("Webhook URL").fill("http://127.0.0.1:9/switchboard-alerts")
    page.get_by_role("button", name="Save webhook").click()
    secret = AlertWebhook.objects.get(organization=acme).secret
    expect(page.locator("#new-secret")).to_have_text(secret)
    expect(page.get_by_text("No alert has been sent to it yet.")).to_be_visible()
    page.screenshot(path=tmp_path / "alert-settings.png", full_page=True)

    page.reload()
    expect(page.locator("#new-secret")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate signing secret").click()
    rotated = AlertWebhook.objects.get(organization=acme).secret
    expect(page.locator("#new-secret")).to_have_text(rotated)
    assert rotated != secret
