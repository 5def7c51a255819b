"""Who may change roles on the members page, and how the change is saved."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_bob_sees_roles_but_cannot_change_them(page: Page, sign_in, alice, bob):
    sign_in(page, "bob@acme.test")
    page.goto("/members/")

    expect(page.get_by_role("heading", name="2 members")).to_be_visible()
    alice_row = page.get_by_role("row").filter(has_text="alice@acme.test")
    expect(alice_row.get_by_text("Owner", exact=True)).to_be_visible()
    expect(page.locator("select.role-select")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    expect(page.get_by_role("button", name="Send invitation")).to_have_count(0)


def test_alice_makes_bob_an_admin(page: Page, sign_in, alice, bob):
    sign_in(page, "alice@acme.test")
    page.goto("/members/")

    # Her own role is not hers to change; bob's is.
    expect(page.get_by_label("Role of alice@acme.test")).to_have_count(0)
    bobs_role = page.get_by_label("Role of bob@acme.test")
    expect(bobs_role).to_have_value("member")

    bobs_role.select_option(label="Admin")

    bob_row = page.get_by_role("row").filter(has_text="bob@acme.test")
    expect(bob_row.get_by_text("Saved")).to_be_visible()
    expect(bobs_role).to_have_value("admin")

    page.reload()
    expect(page.get_by_label("Role of bob@acme.test")).to_have_value("admin")
    expect(page.get_by_role("row").filter(has_text="bob@acme.test").get_by_text("Saved")).to_have_count(0)
