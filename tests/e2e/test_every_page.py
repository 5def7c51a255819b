"""Every page, as each demo person, at 1280 px wide: nothing may stick out of
its card (a table wider than its card hides its last columns, as the
Notifications rules' Delete buttons were), and the browser may log no CSP
violation, script error or failed load.

The data is the quickstart's (`seed_demo` against the Stripe emulator: sixty
days of usage, invoices, a reconciliation, documents, a sales report) plus a
notification rule with a long webhook address and its deliveries, so detail
pages exist and tables have long rows. The pages come from the URL
configuration (the tenant-isolation registry says which answer GET), so a new
page is opened here without anyone listing it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Browser, ConsoleMessage, Page

from billing.models import ReconciliationRun
from capabilities.contracts.actions import store_analysis
from capabilities.contracts.fields import find_contract
from capabilities.contracts.models import Contract
from capabilities.documents.models import Document
from capabilities.models import Job
from capabilities.notifications import actions as notifications
from capabilities.notifications.models import Delivery
from capabilities.registry import registry
from capabilities.reports.models import Report
from portal.demo import DEMO_PASSWORD
from portal.models import Organization, User
from stripe_emulator.testing import running_emulator
from tests.billing.conftest import point_at
from tests.capabilities.contracts.conftest import EVAL
from tests.e2e.conftest import BrowserProblems, _sign_in
from tests.test_tenant_isolation import REGISTRY, ROUTES, NotTenantScoped, TargetedOrganization, UsageReport

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTH = 1280
PEOPLE = {
    "owner": "alice@acme.test",
    "member": "bob@acme.test",
    "billing": "carol@acme.test",
    "IT admin": "ivan@switchboard.test",
    "finance": "fiona@switchboard.test",
}
# What each person must be able to open, so the walk cannot pass on 403s alone.
MUST_OPEN = {
    "owner": ["/", "/c/notifications/", "/api-keys/", "/billing/", "/usage/"],
    "member": ["/", "/jobs/", "/c/documents/", "/c/reports/", "/c/notifications/deliveries/"],
    "billing": ["/", "/usage/", "/billing/"],
    "IT admin": ["/manage/", "/manage/audit/", "/manage/health/", "/manage/organizations/acme/"],
    "finance": ["/finance/", "/finance/prices/", "/finance/reconciliations/", "/finance/stripe-events/"],
}
# Routes that are not pages: files, probes, the API (but its docs page), the
# webhook, sign-out, and links whose token is the credential.
NOT_PAGES = {
    "logout",
    "healthz",
    "readyz",
    "stripe_webhook",
    "api-schema",
    "invitation_accept",
    "password_reset_confirm",
    "documents:file",
}
LONG_HOOK = (  # an address literal: the rule check resolves names, and CI has no DNS
    "https://1.1.1.1/switchboard/acme-corporation/production/notifications/v1/job-events"
)

# Boxes whose content must fit them, and the sideways scroll of the page. A
# child poking out of a card (or an <svg> label cut off by its chart) counts
# as well as a card or table wrapper that scrolls.
OVERFLOW_JS = """
() => {
  const found = [];
  const name = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += '#' + el.id;
    const cls = typeof el.className === 'string' ? el.className.trim() : '';
    if (cls) text += '.' + cls.split(/\\s+/).join('.');
    return text;
  };
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) {
    found.push(`the page scrolls sideways: ${doc.scrollWidth}px in ${doc.clientWidth}px`);
  }
  const boxes = '.content, .card, .cap-card, .stat, .callout, .table-wrap, pre, .error-page';
  for (const box of document.querySelectorAll(boxes)) {
    if (shown(box) && box.scrollWidth > box.clientWidth + 1) {
      found.push(`${name(box)} holds ${box.scrollWidth}px in ${box.clientWidth}px`);
    }
  }
  for (const card of document.querySelectorAll('.card, .cap-card, .stat, .callout')) {
    if (!shown(card)) continue;
    const edge = card.getBoundingClientRect();
    for (const child of card.querySelectorAll('*')) {
      if (!shown(child) || child.closest('svg')) continue;
      const r = child.getBoundingClientRect();
      if (r.width > 0 && (r.right > edge.right + 1 || r.left < edge.left - 1)) {
        const span = (rect) => `${Math.round(rect.left)}-${Math.round(rect.right)}`;
        found.push(`${name(child)} sticks out of ${name(card)} (${span(r)} in ${span(edge)})`);
        break;
      }
    }
  }
  for (const svg of document.querySelectorAll('svg')) {
    if (!shown(svg)) continue;
    const edge = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll('text')) {
      const r = text.getBoundingClientRect();
      if (r.width > 0 && (r.left < edge.left - 1 || r.right > edge.right + 1)) {
        found.push(`${name(svg)} cuts off its label “${text.textContent}”`);
        break;
      }
    }
  }
  return found;
}
"""


@dataclass(frozen=True)
class Visit:
    url: str
    status: int
    problems: list[str]


@pytest.fixture
def demo(settings, tmp_path) -> Iterator[None]:
    """The quickstart's demo data, with Stripe's emulator, and a rule whose
    long webhook address and signing secret make the widest rules table."""
    settings.MEDIA_ROOT = tmp_path / "media"
    with running_emulator() as emulator:
        point_at(emulator, settings, settling_delay=3600)
        call_command("seed_demo", stdout=StringIO())
        alice = User.objects.get(email=PEOPLE["owner"])
        acme = Organization.objects.get(slug="acme")
        rule = notifications.create_rule(
            alice, acme, capability="documents", event="both", channel="webhook", target=LONG_HOOK
        )
        notifications.create_rule(
            alice, acme, capability="reports", event="failed", channel="email", target="ops@acme.test"
        )
        notifications.send_test(alice, rule)
        # The demo's contracts are short: the memo's analysis is replaced by
        # the evaluation set's longest wording (its citations make the widest
        # contract page).
        text = (EVAL / "02-saas-subscription.txt").read_text()
        memo = _one(Document.objects.filter(organization=acme, name="memo-warehouse-move.txt"))
        store_analysis(memo, find_contract([(1, text)]))
        yield


def _one(queryset) -> Any:  # type: ignore[no-untyped-def]
    found = queryset.first()
    assert found is not None, f"the demo has no {queryset.model.__name__}"
    return found


def page_urls() -> list[str]:
    """Every page a GET opens, from the URL configuration, with the demo's rows
    for the ids in it (several where the page differs by row)."""
    acme = Organization.objects.get(slug="acme")
    jobs = Job.objects.filter(organization=acme)
    values: dict[str, list[Any]] = {
        "key": registry().keys(),
        "slug": [acme.slug],
        "job_id": sorted(
            {job.pk for status in Job.Status.values if (job := jobs.filter(status=status).first())}
        ),
        "run_id": [_one(ReconciliationRun.objects.order_by("-pk")).pk],
        "delivery_id": [_one(Delivery.objects.filter(organization=acme)).pk],
        "document_id": [_one(Document.objects.filter(organization=acme)).pk],
        "number": [1],
        "upload_set_id": [_one(Report.objects.filter(organization=acme)).upload_set_id],
        "report_id": [_one(Report.objects.filter(organization=acme)).pk],
        "contract_id": [_one(Contract.objects.filter(organization=acme)).pk],
    }
    urls: list[str] = []
    for route in ROUTES:
        entry = REGISTRY.get(route.name or "")
        if route.name in NOT_PAGES or route.route.startswith(("/api/v1/", "/ofrep/")) or entry is None:
            continue
        if isinstance(entry, TargetedOrganization | UsageReport):
            continue  # POSTs of services (OFREP flags, CloudEvents usage), not pages
        if not isinstance(entry, NotTenantScoped) and "GET" not in entry.methods:
            continue
        if route.route.endswith((".csv", "xlsx/", "pdf/", ".xlsx", ".pdf")) or "export" in (route.name or ""):
            continue
        names = [part.split(">")[0].split(":")[-1] for part in route.route.split("<")[1:]]
        combos: list[dict[str, Any]] = [{}]
        for kwarg in names:
            combos = [{**combo, kwarg: value} for combo in combos for value in values[kwarg]]
        for kwargs in combos:
            url = reverse(route.name, kwargs=kwargs)
            if route.name == "capability_toggle":
                url += "?enabled=1"
            urls.append(url)
    return urls


# Found by this walk, fixed in another change of issue 13 ("Numbers and words":
# the revenue chart's y-axis labels are cut off): drop once that is merged.
KNOWN_ELSEWHERE: list[tuple[str, str]] = []  # (URL prefix, part of a problem) left to another change, if any


def known_elsewhere(url: str, problem: str) -> bool:
    return any(url.startswith(prefix) and part in problem for prefix, part in KNOWN_ELSEWHERE)


def visit(page: Page, url: str, console: list[str]) -> Visit:
    console.clear()
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    status = response.status if response else 0
    return Visit(url, status, [*page.evaluate(OVERFLOW_JS), *console])


def test_every_page_fits_its_cards_for_every_person(
    browser: Browser, demo, live_server, browser_problems: BrowserProblems
):
    urls = page_urls()
    assert len(urls) > 40, urls
    failures: list[str] = []
    for role, email in PEOPLE.items():
        context = browser_problems.watch(
            browser.new_context(base_url=live_server.url, viewport={"width": WIDTH, "height": 900})
        )
        console: list[str] = []

        def on_console(message: ConsoleMessage, console: list[str] = console) -> None:
            # A page that answers 403 or 404 says so in the console too; the
            # walk opens pages a person may not reach, which is fine.
            refused_page = message.text.startswith("Failed to load resource") and message.location.get(
                "url"
            ) == (message.page.url if message.page else None)
            if message.type == "error" and not refused_page:
                console.append(f"console error: {message.text}")

        context.on("console", on_console)
        page = context.new_page()
        _sign_in(page, email, DEMO_PASSWORD)
        opened = []
        for url in urls:
            seen = visit(page, url, console)
            if seen.status == 200:
                opened.append(url)
            failures.extend(
                f"{role} {url}: {problem}" for problem in seen.problems if not known_elsewhere(url, problem)
            )
        failures.extend(f"{role} could not open {url}" for url in MUST_OPEN[role] if url not in opened)
        context.close()
    assert failures == [], "pages that don't fit at 1280 px:\n" + "\n".join(failures)
