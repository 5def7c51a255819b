"""Signing in and out through the browser."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import is_csp_violation

pytestmark = pytest.mark.e2e


def test_alice_signs_in_and_sees_her_organization(page: Page, sign_in, alice):
    sign_in(page, "alice@acme.test")

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Corp")
    expect(page.get_by_text("Switch capabilities on and off for your organization")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_a_wrong_password_says_so_on_the_sign_in_page(page: Page, alice):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_label("Password").fill("not-her-password")
    with page.expect_response(lambda r: r.request.method == "POST") as sign_in_response:
        page.get_by_role("button", name="Sign in").click()

    assert sign_in_response.value.status == 200
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password don't match an account. Check both and try again."
    )
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("alice@acme.test")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_csp_violation_would_be_noticed(page: Page, browser_problems):
    """Guards the CSP check of every other test: Chromium reports an inline
    script in words that `is_csp_violation` recognizes."""
    page.goto("/accounts/login/")
    with page.expect_console_message(is_csp_violation):
        page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.inlineRan = true";
                document.head.appendChild(script);
            }"""
        )
    assert page.evaluate("() => window.inlineRan") is None
    browser_problems.found.clear()  # the violation was this test's point
