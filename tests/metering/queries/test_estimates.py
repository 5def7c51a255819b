"""The monthly estimate shown before a capability is switched on: from the
organization's own last 30 days, else the median of at least five
organizations of similar activity, else none; never one other tenant's
figure, and two queries whatever the number of organizations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from metering.periods import days_period
from metering.queries.estimates import Estimate, estimate, estimates, window
from portal.models import Organization
from tests.factories import OrganizationFactory
from tests.metering.usage_data import NOW, record

pytestmark = pytest.mark.django_db

YESTERDAY = NOW - timedelta(days=1)


def spend_on_ocr(organization: Organization, dollars: int) -> None:
    """`dollars` of text recognition ($0.01 a page) over the window, in two days."""
    pages = dollars * 100
    record(organization, pages // 2, at=YESTERDAY)
    record(organization, pages - pages // 2, at=NOW - timedelta(days=20))


def peers_using_ocr(*dollars: int) -> list[Organization]:
    organizations = []
    for amount in dollars:
        organization = OrganizationFactory()
        spend_on_ocr(organization, amount)
        organizations.append(organization)
    return organizations


def spend_on_summaries(organization: Organization, dollars: int) -> None:
    """`dollars` of summaries ($0.05 each) yesterday: activity that is not text recognition."""
    record(organization, dollars * 20, capability="summaries", meter="summaries", at=YESTERDAY)


# --- the window ------------------------------------------------------------------------


def test_the_window_is_the_last_30_whole_days_before_today():
    assert window(NOW) == days_period(NOW.date() - timedelta(days=30), NOW.date() - timedelta(days=1))


# --- own history -----------------------------------------------------------------------


def test_own_use_over_the_last_30_days_priced_per_meter_line(acme):
    record(acme, 1234, at=YESTERDAY)  # 1,234 pages at $0.01
    record(acme, 1, at=NOW - timedelta(days=30))  # the window's first day
    record(acme, 3, meter="api_calls", at=YESTERDAY)  # free: counts as use, costs nothing
    record(acme, 10_000, at=NOW)  # today: not a whole day yet
    record(acme, 10_000, at=NOW - timedelta(days=31))  # before the window

    found = estimate(acme, "ocr", now=NOW)

    assert found == Estimate(Decimal("12.35"), "usd", "own_history", period=window(NOW))


def test_lines_are_rounded_as_an_invoice_rounds_them(acme, settings):
    record(acme, 7, capability="summaries", meter="summaries", at=YESTERDAY)  # $0.35
    record(acme, 1, capability="summaries", meter="summaries", at=NOW - timedelta(days=2))  # $0.05

    assert estimate(acme, "summaries", now=NOW).monthly == Decimal("0.40")


def test_own_history_wins_over_peers(acme):
    peers_using_ocr(4, 5, 6, 7, 8)
    spend_on_ocr(acme, 5)
    record(acme, 33, at=YESTERDAY)

    found = estimate(acme, "ocr", now=NOW)

    assert (found.monthly, found.basis) == (Decimal("5.33"), "own_history")


def test_usage_cancelled_by_a_correction_is_no_history(acme):
    record(acme, 500, at=YESTERDAY)
    record(acme, -500, at=YESTERDAY, reason="Test pages")

    assert estimate(acme, "ocr", now=NOW).basis is None


# --- peers -----------------------------------------------------------------------------


def test_the_median_of_five_organizations_of_similar_activity(acme):
    spend_on_summaries(acme, 10)  # acme: $10 of activity, no text recognition
    peers_using_ocr(4, 5, 6, 7, 8)  # all within a third of and three times $10
    peers_using_ocr(500)  # far busier: not a peer
    peers_using_ocr(3)  # under a third of acme's activity: not a peer

    found = estimate(acme, "ocr", now=NOW)

    assert found == Estimate(Decimal("6.00"), "usd", "peers", peers=5, period=window(NOW))


def test_four_peers_are_not_enough(acme):
    spend_on_summaries(acme, 10)
    peers_using_ocr(4, 5, 6, 7)
    peers_using_ocr(500, 600)  # users, but not peers

    assert estimate(acme, "ocr", now=NOW) == Estimate(None, "usd", None)


def test_an_even_number_of_peers_gives_the_mean_of_the_middle_two(acme):
    spend_on_summaries(acme, 10)
    peers_using_ocr(4, 5, 6, 7, 8, 9)

    found = estimate(acme, "ocr", now=NOW)

    assert (found.monthly, found.peers) == (Decimal("6.50"), 6)


def test_a_peers_other_use_counts_towards_its_activity(acme):
    spend_on_summaries(acme, 30)  # band: $10 to $90
    peers = peers_using_ocr(2, 2, 2, 2, 2)  # $2 each: too quiet on their own
    for peer in peers:
        spend_on_summaries(peer, 20)  # $22 of activity each

    found = estimate(acme, "ocr", now=NOW)

    assert (found.monthly, found.basis) == (Decimal("2.00"), "peers")


def test_an_organization_without_activity_compares_with_small_users(acme):
    peers_using_ocr(1, 2, 3, 4, 30)  # up to $30: three times the quiet floor
    peers_using_ocr(31, 200)  # busier: not peers of a newcomer

    found = estimate(acme, "ocr", now=NOW)

    assert (found.monthly, found.peers) == (Decimal("3.00"), 5)


def test_peers_who_did_not_use_it_are_not_counted(acme):
    spend_on_summaries(acme, 10)
    peers_using_ocr(4, 5, 6, 7)
    spend_on_summaries(OrganizationFactory(), 10)  # similar activity, never used text recognition

    assert estimate(acme, "ocr", now=NOW).basis is None


# --- tenant isolation ------------------------------------------------------------------


def test_one_other_tenants_figure_is_never_shown(acme, globex):
    spend_on_summaries(acme, 10)
    spend_on_ocr(globex, 7)  # globex alone used it: its figure would be its bill

    for peers in range(1, 5):
        found = estimate(acme, "ocr", now=NOW)
        assert found.monthly is None, f"{peers} peer(s)"
        assert found.basis is None
        peers_using_ocr(7)

    assert estimate(acme, "ocr", now=NOW).peers == 5  # the fifth makes an aggregate


def test_another_tenants_use_is_never_own_history(acme, globex):
    spend_on_ocr(globex, 7)

    assert estimate(acme, "ocr", now=NOW).basis != "own_history"
    assert estimate(globex, "ocr", now=NOW).basis == "own_history"


def test_an_organization_is_not_its_own_peer(acme):
    spend_on_summaries(acme, 10)
    peers_using_ocr(4, 5, 6, 7)
    record(acme, 1, at=NOW)  # today's use: not history, and not a fifth peer either

    assert estimate(acme, "ocr", now=NOW).basis is None


# --- cost ------------------------------------------------------------------------------


def test_every_capability_costs_two_queries_whatever_the_organizations(acme, django_assert_num_queries):
    spend_on_summaries(acme, 10)
    peers_using_ocr(*range(4, 24))
    keys = ["ocr", "summaries", "glossary"]
    estimates(acme, keys, now=NOW)  # warm the meter prices

    with django_assert_num_queries(2):
        found = estimates(acme, keys, now=NOW)

    assert found["summaries"].basis == "own_history"
    assert found["ocr"].basis == "peers"
    assert found["glossary"] == Estimate(None, "usd", None)


def test_all_used_by_the_organization_costs_one_query(acme, django_assert_num_queries):
    spend_on_ocr(acme, 3)
    estimate(acme, "ocr", now=NOW)  # warm the meter prices

    with django_assert_num_queries(1):
        assert estimate(acme, "ocr", now=NOW).basis == "own_history"
