"""The catalog at `/`, the toggle flow (htmx confirmation, then the refreshed
grid), each capability's page with its history, and the rule that a switched-off
capability's own pages answer 403 and leave the navigation.

One module for the catalog and capability pages, which share the toggle flow.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import dateformat, timezone
from django.utils.timezone import localtime

from capabilities.models import FeatureToggle, ToggleChange
from capabilities.registry import registry
from tests.capabilities.state import enabled_in, states
from tests.factories import OrganizationFactory, UserFactory
from tests.html import text
from tests.metering.usage_data import NOW, record

HTMX = {"HX-Request": "true"}


def card(page: str, key: str) -> str:
    """The catalog card of one capability."""
    match = re.search(rf'<article class="cap-card[^"]*" id="cap-{key}">(.*?)</article>', page, re.S)
    assert match, f"no card for {key}"
    return match.group(1)


def switches(page: str) -> int:
    return page.count('role="switch"')


# --- the catalog ----------------------------------------------------------------


def test_the_catalog_shows_every_capability_with_its_prices(client_for, alice):
    response = client_for(alice).get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert f"0 of {len(registry())} capabilities switched on." in page
    assert "Turns scanned pages into text." in card(page, "ocr")
    assert "$0.01</strong> per page" in card(page, "ocr")
    assert "$0.05</strong> per summary" in card(page, "summaries")
    assert "Included at no charge." in card(page, "glossary")
    assert 'Needs <a href="/capabilities/ocr/">Text recognition</a>' in card(page, "summaries")


@pytest.mark.parametrize("person", ["alice", "dan"])
def test_owners_and_admins_get_a_switch_on_every_card(client_for, cast, dan, person):
    people = {**cast, "dan": dan}
    page = client_for(people[person]).get("/").content.decode()

    assert switches(page) == len(registry())
    assert 'aria-label="Switch on Text recognition"' in card(page, "ocr")


@pytest.mark.parametrize("person", ["bob", "carol"])
def test_members_and_billing_see_the_state_read_only(client_for, cast, acme, switch, person):
    switch(cast["alice"], acme, "glossary", enabled=True)

    page = client_for(cast[person]).get("/").content.decode()

    assert switches(page) == 0
    assert "Owners and admins switch capabilities" in page
    assert ">On</span>" in card(page, "glossary")
    assert ">Off</span>" in card(page, "ocr")


@pytest.mark.parametrize("person", ["bob", "carol"])
def test_members_and_billing_cannot_switch(client_for, cast, acme, person):
    client = client_for(cast[person])

    for method, request in (("GET", client.get), ("POST", client.post)):
        response = request("/capabilities/glossary/toggle/", {"enabled": "on"}, headers=HTMX)
        assert response.status_code == 403, method

    assert enabled_in(acme) == set()
    assert not ToggleChange.objects.exists()


def test_gina_sees_globex_and_never_acmes_switches(client_for, alice, gina, acme, switch):
    switch(alice, acme, "glossary", enabled=True)

    page = client_for(gina).get("/").content.decode()

    assert "Globex" in page and "Acme" not in page
    assert f"0 of {len(registry())} capabilities switched on." in page
    assert 'aria-label="Switch on Glossary"' in card(page, "glossary")


def test_the_catalogs_query_count_does_not_grow_with_toggles_and_history(
    client_for, alice, acme, switch, django_assert_max_num_queries
):
    client = client_for(alice)

    def catalog_queries() -> int:
        client.get("/")  # warm the snapshot first: the gate is measured in test_gate
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
        return len(queries)

    before = catalog_queries()
    for round_ in range(20):
        for key in ("summaries", "glossary"):
            switch(alice, acme, key, enabled=round_ % 2 == 0, include_related=True, reason=f"round {round_}")
    assert ToggleChange.objects.filter(organization=acme).count() >= 40

    assert catalog_queries() == before
    # session, user, membership, toggles, pending scheduled switches, payment standing,
    # degraded capabilities, switcher, and the alerts banner (one indexed query for an
    # owner; none for a member).
    with django_assert_max_num_queries(9):
        client.get("/")


# --- the toggle flow ------------------------------------------------------------


def test_switching_a_paid_capability_on_asks_first_with_its_prices(client_for, alice):
    response = client_for(alice).get("/capabilities/ocr/toggle/?enabled=1", headers=HTMX)

    assert response.status_code == 200
    panel = text(response)
    assert "<html" not in panel  # the partial, not a page
    assert "Switch on Text recognition?" in panel
    assert "Usage is billed monthly at $0.01 per page." in panel
    assert "will be switched on too" not in panel


def test_switching_summaries_on_says_ocr_comes_with_it(client_for, alice):
    panel = text(client_for(alice).get("/capabilities/summaries/toggle/?enabled=1", headers=HTMX))

    assert "$0.05 per summary" in panel
    assert re.search(r"It needs <strong>Text recognition</strong>.*which will be switched on too", panel)
    assert 'name="include_related" value="on"' in panel
    assert "Switch on all" in panel


def test_switching_off_says_usage_so_far_is_still_billed(client_for, alice, acme, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    panel = text(client_for(alice).get("/capabilities/ocr/toggle/?enabled=0", headers=HTMX))

    assert "Switch off Text recognition?" in panel
    assert "Usage so far this period is still billed" in panel
    assert "<strong>Summaries</strong> needs it and will be switched off too." in panel


def test_without_htmx_the_confirmation_is_a_page(client_for, alice):
    response = client_for(alice).get("/capabilities/ocr/toggle/?enabled=1")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" in page and "Switch on Text recognition?" in page


# --- the estimate on the confirmation ----------------------------------------------


def words(html: str) -> str:
    """The page as a person reads it: tags dropped, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace(" ,", ",").split())


@pytest.fixture
def _clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.mark.usefixtures("_clock")
def test_the_confirmation_estimates_from_acmes_own_use(client_for, alice, acme):
    record(acme, 1240, at=NOW - timedelta(days=3))  # 1,240 pages at $0.01

    panel = words(text(client_for(alice).get("/capabilities/ocr/toggle/?enabled=1", headers=HTMX)))

    assert "About $12.40 a month, from your own use over the last 30 days." in panel


@pytest.mark.usefixtures("_clock")
def test_the_confirmation_estimates_from_similar_organizations(client_for, alice, acme):
    for pages in (300, 400, 500, 600, 700):
        record(OrganizationFactory(), pages, at=NOW - timedelta(days=2))

    panel = words(text(client_for(alice).get("/capabilities/ocr/toggle/?enabled=1", headers=HTMX)))

    assert "About $5.00 a month, from the median of 5 similar organizations over the last 30 days." in panel


@pytest.mark.usefixtures("_clock")
def test_without_use_or_enough_peers_there_is_no_estimate_yet(client_for, alice, acme, globex):
    record(globex, 700, at=NOW - timedelta(days=2))  # one other tenant: never its figure

    panel = words(text(client_for(alice).get("/capabilities/ocr/toggle/?enabled=1", headers=HTMX)))

    assert "No estimate yet: Acme" in panel
    assert "has not used Text recognition in the last 30 days" in panel
    assert "$7.00" not in panel


@pytest.mark.usefixtures("_clock")
def test_what_comes_along_has_its_estimate_too(client_for, alice, acme):
    record(acme, 250, at=NOW - timedelta(days=3))  # text recognition: $2.50

    panel = words(text(client_for(alice).get("/capabilities/summaries/toggle/?enabled=1", headers=HTMX)))

    assert "Text recognition ($0.01 per page; about $2.50 a month)" in panel
    assert "No estimate yet" in panel  # for summaries itself


def test_switching_off_shows_no_estimate(client_for, alice, acme, switch):
    switch(alice, acme, "ocr", enabled=True)

    panel = text(client_for(alice).get("/capabilities/ocr/toggle/?enabled=0", headers=HTMX))

    assert "a month" not in panel and "estimate" not in panel


def test_alice_switches_glossary_on_and_gets_the_grid_back(client_for, alice, acme):
    response = client_for(alice).post(
        "/capabilities/glossary/toggle/", {"enabled": "on", "reason": "Onboarding"}, headers=HTMX
    )

    assert response.status_code == 200
    grid = response.content.decode()
    assert grid.strip().startswith('<div id="catalog">')
    assert "Switched on: Glossary." in grid
    assert 'aria-label="Switch off Glossary"' in card(grid, "glossary")
    assert states(acme)["glossary"] == (True, False)
    assert ToggleChange.objects.get(organization=acme).reason == "Onboarding"


def test_dan_switches_ocr_off_and_is_told_usage_is_still_billed(client_for, dan, acme, switch):
    switch(dan, acme, "ocr", enabled=True)

    grid = client_for(dan).post("/capabilities/ocr/toggle/", {"reason": "Pilot over"}, headers=HTMX)

    assert grid.status_code == 200
    assert (
        "Switched off: Text recognition. Usage so far this period is still billed." in grid.content.decode()
    )
    assert enabled_in(acme) == set()


def test_summaries_without_agreeing_to_ocr_is_refused_in_the_grid(client_for, alice, acme):
    response = client_for(alice).post("/capabilities/summaries/toggle/", {"enabled": "on"}, headers=HTMX)

    assert response.status_code == 409
    grid = response.content.decode()
    assert 'class="flash flash-error"' in grid
    assert "Summaries needs Text recognition switched on too." in grid
    assert enabled_in(acme) == set()


def test_summaries_with_ocr_after_confirmation(client_for, alice, acme):
    response = client_for(alice).post(
        "/capabilities/summaries/toggle/", {"enabled": "on", "include_related": "on"}, headers=HTMX
    )

    assert response.status_code == 200
    assert "Switched on: Summaries, Text recognition." in response.content.decode()
    assert enabled_in(acme) == {"summaries", "ocr"}


def test_without_htmx_the_switch_redirects_to_the_catalog_with_a_message(client_for, alice, acme):
    response = client_for(alice).post("/capabilities/glossary/toggle/", {"enabled": "on"}, follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert "Switched on: Glossary." in response.content.decode()
    assert enabled_in(acme) == {"glossary"}


def test_gina_switches_only_globex(client_for, gina, acme, globex):
    client_for(gina).post("/capabilities/glossary/toggle/", {"enabled": "on"}, headers=HTMX)

    assert enabled_in(globex) == {"glossary"}
    assert states(acme) == {}


@pytest.mark.parametrize(
    "url", ["/capabilities/retired/", "/capabilities/retired/toggle/", "/capabilities/Not a key/toggle/"]
)
def test_an_unknown_capability_is_not_found(client_for, alice, url):
    client = client_for(alice)
    assert client.get(url).status_code == 404
    assert client.post(url, {"enabled": "on"}).status_code == 404
    assert not FeatureToggle.objects.exists()


def test_a_locked_capability_shows_its_lock_and_refuses(client_for, alice, ivan, acme, force):
    force(ivan, acme, "ocr", enabled=False, reason="Contract under review")
    client = client_for(alice)

    page = client.get("/").content.decode()
    assert switches(card(page, "ocr")) == 0
    assert "Off · locked" in card(page, "ocr")
    assert "Locked off: Contract under review" in card(page, "ocr")
    assert switches(page) == len(registry()) - 1

    response = client.post("/capabilities/ocr/toggle/", {"enabled": "on"}, headers=HTMX)
    assert response.status_code == 409
    assert "locked by your platform administrator: Contract under review" in response.content.decode()
    assert states(acme)["ocr"] == (False, True)


# --- a capability's page --------------------------------------------------------


def test_the_capability_page_tells_who_switched_it_when_and_why(
    client_for, alice, ivan, bob, acme, switch, force
):
    switch(alice, acme, "summaries", enabled=True, include_related=True, reason="Board packs")
    force(ivan, acme, "summaries", enabled=True, reason="Enterprise plan")
    changes = list(ToggleChange.objects.filter(organization=acme, capability_key="summaries"))

    page = client_for(bob).get("/capabilities/summaries/").content.decode()

    assert "Board packs" in page and "alice@acme.test" in page
    assert "Enterprise plan" in page and "ivan@switchboard.test" in page
    assert "Switched on" in page and "Locked" in page and "IT admin" in page
    assert all(dateformat.format(localtime(change.at), "Y-m-d H:i") in page for change in changes)
    assert page.index("Enterprise plan") < page.index("Board packs")  # newest first
    assert "$0.05" in page
    assert 'href="/c/summaries/"' in page  # "Open Summaries"


def test_ocr_history_names_the_dependency_rule(client_for, alice, acme, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True, reason="Board packs")

    page = client_for(alice).get("/capabilities/ocr/").content.decode()

    assert "Needed by the change of Summaries: Board packs" in page
    assert "Dependency rule" in page
    assert 'Needed by:</strong> <a href="/capabilities/summaries/">Summaries</a>' in page


def test_gina_reads_globex_history_and_never_acmes(client_for, alice, gina, acme, switch):
    switch(alice, acme, "ocr", enabled=True, reason="Acme pilot")

    response = client_for(gina).get("/capabilities/ocr/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Acme pilot" not in page and "alice@acme.test" not in page
    assert "has never been switched for Globex" in page


# --- the capability's own pages and the navigation ------------------------------


def test_summaries_page_is_403_while_off(client_for, bob):
    response = client_for(bob).get("/c/summaries/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "Summaries is switched off" in page
    assert 'data-code="capability_disabled"' in page
    assert "An owner or admin of your organization can switch it on." in page


def test_summaries_page_opens_once_alice_switches_it_on(client_for, alice, bob, acme, switch):
    client = client_for(bob)
    assert client.get("/c/summaries/").status_code == 403

    switch(alice, acme, "summaries", enabled=True, include_related=True)

    response = client.get("/c/summaries/")
    assert response.status_code == 200
    assert "Summaries home" in response.content.decode()


def test_summaries_page_closes_again_when_switched_off(client_for, alice, acme, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)
    client = client_for(alice)
    assert client.get("/c/summaries/").status_code == 200

    switch(alice, acme, "ocr", enabled=False, include_related=True)

    response = client.get("/c/summaries/")
    assert response.status_code == 403
    assert "You can switch it on in the catalog." in response.content.decode()


def test_gina_cannot_open_summaries_that_acme_switched_on(client_for, alice, gina, acme, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    assert client_for(gina).get("/c/summaries/").status_code == 403


def test_navigation_shows_summaries_only_while_it_is_on(client_for, alice, bob, acme, switch):
    client = client_for(bob)
    nav_link = 'href="/c/summaries/"'
    assert nav_link not in client.get("/").content.decode()

    switch(alice, acme, "summaries", enabled=True, include_related=True)
    page = client.get("/overview/").content.decode()
    assert nav_link in page and "Switched on" in page

    switch(alice, acme, "summaries", enabled=False)
    assert nav_link not in client.get("/overview/").content.decode()


# --- prices: the price book's version in force, and what is scheduled ---------------------


def _price_in_force(capability: str, meter: str, unit_price: str) -> None:
    """A price book version in force since this period's start, as one a
    finance person scheduled last month would be now."""
    from billing import price_book
    from billing.models import PriceVersion
    from metering.periods import billing_period

    price_book.ensure_defaults()
    latest = PriceVersion.objects.filter(capability=capability, meter=meter).order_by("-version")[0]
    PriceVersion.objects.create(
        capability=capability,
        meter=meter,
        version=latest.version + 1,
        unit_price=Decimal(unit_price),
        currency="usd",
        effective_from=billing_period(timezone.now()).start,
        note="in force since this period's start",
    )
    price_book.forget_cached_prices()


def test_the_catalog_and_capability_page_show_the_price_in_force_and_the_change_scheduled(
    client_for, alice, fiona
):
    """Issue 13: after a price change the catalog still showed the price the app declares."""
    from billing import actions as billing_actions
    from billing import price_book

    _price_in_force("ocr", "pages", "0.012")
    scheduled = billing_actions.change_price(fiona, "ocr", "pages", Decimal("0.015"), note="next period")
    price_book.forget_cached_prices()
    starts = f"{scheduled.effective_from:%-d %b %Y}"

    page = text(client_for(alice).get("/"))
    ocr = card(page, "ocr")
    assert "$0.012</strong> per page" in ocr
    assert "$0.01</strong>" not in ocr
    assert f"from {starts}: $0.015 per page" in ocr

    detail = text(client_for(alice).get("/capabilities/ocr/"))
    assert "<td>$0.012" in detail
    assert f"from {starts}: $0.015 per page" in detail

    confirm = text(client_for(alice).get("/capabilities/ocr/toggle/?enabled=1", headers=HTMX))
    assert "$0.012 per page" in confirm


def test_is_paid_follows_the_price_in_force(client_for, alice):
    glossary = registry().get("glossary")
    assert not glossary.is_paid
    _price_in_force("glossary", "api_calls", "0.002")

    assert glossary.is_paid
    page = text(client_for(alice).get("/"))
    assert "$0.002</strong> per API call" in card(page, "glossary")
    assert "Included at no charge." not in card(page, "glossary")
    # a paid capability asks first, with its price
    assert 'hx-get="/capabilities/glossary/toggle/?enabled=1"' in card(page, "glossary")


def test_the_capabilities_api_lists_the_price_in_force(client_for, alice):
    _price_in_force("ocr", "pages", "0.012")
    body = client_for(alice).get("/api/v1/capabilities/").json()
    rows = body["results"] if isinstance(body, dict) else body
    [ocr] = [row for row in rows if row["key"] == "ocr"]
    [pages] = [meter for meter in ocr["meters"] if meter["key"] == "pages"]
    assert Decimal(pages["unit_price"]) == Decimal("0.012")


def test_one_unit_price_formatter_serves_every_page(client_for, alice):
    """Issue 13: two `unit_price` filters rounded to 6 and to 10 places."""
    from django.template import Engine

    from capabilities.templatetags import capability_tags
    from metering import formatting
    from metering.templatetags import usage_tags

    assert capability_tags.register.filters["unit_price"] is formatting.unit_price
    assert usage_tags.register.filters["unit_price"] is formatting.unit_price
    libraries = Engine.get_default().template_libraries
    for name, library in libraries.items():
        for filter_name in ("unit_price", "money", "money_totals"):
            if filter_name in library.filters:
                assert library.filters[filter_name] is getattr(formatting, filter_name), (name, filter_name)

    _price_in_force("ocr", "pages", "0.0000005")
    assert "$0.0000005</strong> per page" in card(text(client_for(alice).get("/")), "ocr")


class TestLockedOffPage:
    """A capability an IT admin locked off: its 403 says who locked it, why, and
    whom to ask, not “You can switch it on in the catalog” (the owner can't)."""

    def test_owner_is_told_who_locked_it_and_why(self, client_for, alice, ivan, acme, switch, force):
        switch(alice, acme, "summaries", enabled=True, include_related=True)
        force(ivan, acme, "summaries", enabled=False, reason="Contract ended in November")

        response = client_for(alice).get("/c/summaries/")

        assert response.status_code == 403
        page = " ".join(response.content.decode().split())
        assert "You can switch it on in the catalog" not in page
        assert "Ivan Ito" in page
        assert "locked" in page
        assert "Contract ended in November" in page
        assert "Ask Ivan Ito, your platform administrator, to unlock it" in page

    def test_a_capability_whose_dependency_is_locked_off_names_that_lock(
        self, client_for, bob, ivan, acme, force
    ):
        force(ivan, acme, "ocr", enabled=False, reason="Scanner licence expired")

        page = " ".join(client_for(bob).get("/c/summaries/").content.decode().split())

        assert "needs Text recognition" in page
        assert "Scanner licence expired" in page
        assert "Ask Ivan Ito, your platform administrator, to unlock it" in page
        assert "An owner or admin of your organization can switch it on" not in page

    def test_without_a_name_the_page_says_your_platform_administrator(
        self, client_for, alice, acme, force, db
    ):
        nameless = UserFactory(email="ops@switchboard.test", full_name="", is_staff=True)
        force(nameless, acme, "summaries", enabled=False, reason="Audit")

        page = " ".join(client_for(alice).get("/c/summaries/").content.decode().split())

        assert "Your platform administrator locked" in page
        assert "Ask your platform administrator to unlock it" in page
        assert "ops@switchboard.test" not in page

    def test_the_api_says_the_same(self, client_for, alice, ivan, acme, force):
        force(ivan, acme, "documents", enabled=False, reason="Storage quota review")

        response = client_for(alice).get("/api/v1/c/documents/documents/")

        assert (response.status_code, response.json()["code"]) == (403, "capability_disabled")
        detail = response.json()["detail"]
        assert "An owner or admin can switch it on" not in detail
        assert "Storage quota review" in detail
        assert "Ask Ivan Ito, your platform administrator, to unlock it" in detail
