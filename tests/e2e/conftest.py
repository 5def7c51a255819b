"""Browser tests: Playwright drives Debian's Chromium against a live server.

Each test gets its own browser context (pytest-playwright's `page`), signs in
through the real form and reads like a story. `browser_problems` watches every
page for what a user would not see but should never happen: a Content
Security Policy violation, an uncaught script error, a 5xx response.
"""

import os
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page, Response, expect

from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in the test thread; without this
# Django refuses ORM calls from fixtures and tests ("async context").
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# Playwright's own browser download can't reach its CDN here: use Debian's.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


# A busy 2-core machine (CI runs workers, servers and Chromium at once) can take
# longer than Playwright's 5 s to render what a test expects; these are
# deadlines, not speed checks, so they are generous.
EXPECT_DEADLINE_MS = 30_000
ACTION_DEADLINE_MS = 60_000
expect.set_options(timeout=EXPECT_DEADLINE_MS)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Relative URLs in `page.goto("/members/")` go to the live server. Asking
    for it also gives every browser test a transactional database, so the
    server thread sees the rows the test's fixtures create."""
    return live_server.url


def is_csp_violation(message: ConsoleMessage) -> bool:
    return message.type == "error" and "Content Security Policy" in message.text


class BrowserProblems:
    """Collects what went wrong in the watched browser contexts."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.set_default_timeout(ACTION_DEADLINE_MS)
        context.set_default_navigation_timeout(ACTION_DEADLINE_MS)
        context.on("console", self._on_console)
        context.on("weberror", self._on_web_error)
        context.on("response", self._on_response)
        return context

    def _on_console(self, message: ConsoleMessage) -> None:
        if is_csp_violation(message):
            self.found.append(f"CSP violation on {message.page and message.page.url}: {message.text}")

    def _on_web_error(self, web_error) -> None:
        error: Error = web_error.error
        self.found.append(f"uncaught script error: {error.message}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.found.append(f"{response.status} from {response.request.method} {response.url}")


@pytest.fixture(autouse=True)
def browser_problems(context: BrowserContext) -> Iterator[BrowserProblems]:
    """Fails the test if the default context (the one `page` lives in) or any
    context the test passed to `browser_problems.watch` had a problem."""
    problems = BrowserProblems()
    problems.watch(context)
    yield problems
    assert problems.found == [], "the browser saw problems:\n" + "\n".join(problems.found)


def _sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # Wait for the signed-in page, so a following `goto` can't cancel the sign-in.
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def sign_in() -> Callable[..., None]:
    """`sign_in(page, email, password=PASSWORD)`: sign in through the form, as
    a person would, and wait until signed in."""
    return _sign_in
