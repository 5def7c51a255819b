"""An IT admin creates a tenant and suspends it; its owner is then shut out."""

import re

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


def test_ivan_creates_and_suspends_initech_and_peter_is_shut_out(
    page: Page, sign_in, new_context, browser_problems, ivan
):
    UserFactory(email="peter@initech.test", full_name="Peter Gibbons")

    sign_in(page, "ivan@switchboard.test")
    # An IT admin without an organization of his own lands on the tenant list.
    expect(page).to_have_url(re.compile(r"/manage/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Tenants")

    page.get_by_role("link", name="New organization").click()
    page.get_by_label("Name").fill("Initech")
    page.get_by_label("Slug").fill("initech")
    page.get_by_label("First owner's email").fill("peter@initech.test")
    page.get_by_role("button", name="Create organization").click()

    expect(page).to_have_url(re.compile(r"/manage/organizations/initech/$"))
    expect(page.get_by_role("status")).to_contain_text("Initech created with its owner.")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Initech")
    expect(heading).to_contain_text("Active")
    expect(page.get_by_label("Role of peter@initech.test")).to_have_value("owner")

    confirmations: list[str] = []

    def confirm(dialog: Dialog) -> None:
        confirmations.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    page.get_by_label("Reason").fill("Unpaid invoices since March.")
    page.get_by_role("button", name="Suspend Initech").click()

    expect(heading).to_contain_text("Suspended")
    expect(page.get_by_role("button", name="Reactivate")).to_be_visible()
    expect(page.get_by_role("button", name="Suspend Initech")).to_have_count(0)
    expect(page.get_by_text("Unpaid invoices since March.")).to_be_visible()
    assert len(confirmations) == 1
    assert "Initech" in confirmations[0]

    peters_page = browser_problems.watch(new_context()).new_page()
    sign_in(peters_page, "peter@initech.test")

    expect(peters_page.get_by_role("heading", level=1)).to_have_text("Initech is suspended")
    expect(peters_page.get_by_text("Unpaid invoices since March.")).to_be_visible()
