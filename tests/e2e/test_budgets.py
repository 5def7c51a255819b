"""Budgets on /usage/: alice sets a budget and sees it as a bar with its
figures; an invalid limit is answered next to the field."""

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from metering import actions
from metering.models import Budget
from tests.metering.usage_data import record

pytestmark = pytest.mark.e2e


def test_alice_sets_a_budget_and_sees_the_bar(page: Page, sign_in, alice, acme):
    record(acme, 12, at=timezone.now())  # 12 pages of Text recognition: $0.12
    sign_in(page, "alice@acme.test")
    page.goto("/usage/")

    budgets = page.locator("#budgets")
    expect(budgets.get_by_role("heading", name="No budget yet")).to_be_visible()
    budgets.get_by_label("Covers").select_option(label="Text recognition")
    budgets.get_by_label("Monthly limit").fill("-5")
    budgets.get_by_role("button", name="Set budget").click()
    expect(budgets.get_by_text("The limit cannot be negative.")).to_be_visible()
    assert not Budget.objects.exists()

    page.locator("#budgets").get_by_label("Monthly limit").fill("0.20")
    page.locator("#budgets").get_by_role("button", name="Set budget").click()

    card = page.locator("#budgets .budget")
    expect(card).to_have_count(1)
    expect(card.locator(".budget-title")).to_contain_text("Text recognition")
    expect(card.get_by_text("50 % alert sent")).to_be_visible()  # $0.12 of $0.20
    expect(card.get_by_text("$0.12", exact=True)).to_be_visible()
    expect(card.get_by_text("$0.08 left")).to_be_visible()
    expect(card.locator("svg.budget-bar rect.budget-bar-spent")).to_have_attribute("width", "60")
    expect(page.locator("#budgets").get_by_text("Budget for Text recognition set.")).to_be_visible()
    budget = Budget.objects.get()
    assert (budget.capability, budget.amount, budget.action) == ("ocr", Decimal("0.20"), "stop")


def test_alice_raises_and_then_removes_a_budget(page: Page, sign_in, alice, acme):
    record(acme, 30, at=timezone.now())  # $0.30
    budget = actions.save_budget(alice, acme, capability=None, amount=Decimal("0.30"))
    sign_in(page, "alice@acme.test")
    page.goto("/usage/")
    card = page.locator(f"#budget-{budget.pk}")
    expect(card.get_by_text("Stopped: new jobs are refused")).to_be_visible()

    card.get_by_text("Change", exact=True).click()
    card.get_by_label("Monthly limit").fill("3.00")
    card.get_by_role("button", name="Save").click()
    card = page.locator(f"#budget-{budget.pk}")
    expect(card.get_by_text("Within budget")).to_be_visible()
    expect(card.get_by_text("$2.70 left")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_text("Change", exact=True).click()
    card.get_by_role("button", name="Remove budget").click()
    expect(page.locator("#budgets").get_by_role("heading", name="No budget yet")).to_be_visible()
    assert not Budget.objects.exists()
