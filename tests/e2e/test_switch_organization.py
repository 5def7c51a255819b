"""A person in two organizations moves between them with the sidebar switcher."""

import pytest
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.e2e


def test_gina_switches_from_acme_to_globex(page: Page, sign_in, gina, acme):
    MembershipFactory(user=gina, organization=acme, role=Role.MEMBER)

    sign_in(page, "gina@globex.test")
    # Without a choice yet, she works in her first organization by name.
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Corp")
    switcher = page.get_by_label("Switch organization")
    expect(switcher).to_have_value("acme")

    switcher.select_option(label="Globex")

    expect(page.get_by_role("heading", level=1)).to_have_text("Globex")
    expect(page.get_by_role("status")).to_contain_text("You are now working in Globex.")
    expect(page.get_by_label("Switch organization")).to_have_value("globex")
    expect(page.get_by_text("Switch capabilities on and off for your organization")).to_be_visible()

    # The choice sticks to her session.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex")
