"""The contract finder on contracts of varied wording (bench/contracts_eval,
with their expected fields in gold.json), an invoice and a policy; dates,
numbers as words, the computed expiry and notice deadline, and unknowns."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from capabilities.contracts.fields import (
    FIELDS,
    add_months,
    current_term_end,
    find_contract,
    next_notice_deadline,
    notice_deadline,
    parse_date,
    parse_number,
    term_end,
)
from capabilities.contracts.models import Contract
from tests.capabilities.contracts.conftest import GOLD, sample

CONTRACTS = [name for name, gold in GOLD.items() if gold["is_contract"]]
NOT_CONTRACTS = [name for name, gold in GOLD.items() if not gold["is_contract"]]


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def test_the_set_has_enough_contracts_and_non_contracts():
    assert len(CONTRACTS) >= 8 and len(NOT_CONTRACTS) >= 2


@pytest.mark.parametrize("name", CONTRACTS)
@pytest.mark.parametrize("field", [*FIELDS, "notice_deadline"])
def test_each_field_of_each_contract(name, field):
    finding = find_contract([(1, sample(name))])
    assert finding.is_contract
    found, expected = _plain(finding.value(field)), GOLD[name][field]
    if field == "termination_clauses":
        found = found or []
        assert len(found) == len(expected)
        for part in expected:
            assert any(part in clause for clause in found), (part, found)
    else:
        assert found == expected


@pytest.mark.parametrize("name", CONTRACTS)
def test_every_citation_is_the_exact_span_of_its_page(name):
    text = sample(name)
    finding = find_contract([(1, text)])
    assert finding.citations
    for field, citations in finding.citations.items():
        if field in finding.computed:
            assert citations == []
            continue
        assert citations, field
        for citation in citations:
            assert citation.page == 1
            assert citation.quote == text[citation.start : citation.end]
            assert citation.quote.strip() == citation.quote


@pytest.mark.parametrize("name", NOT_CONTRACTS)
def test_an_invoice_and_a_policy_are_not_contracts_and_have_no_fields(name):
    finding = find_contract([(1, sample(name))])
    assert not finding.is_contract
    assert finding.values == {} and finding.citations == {}


def test_citations_name_the_page_they_come_from():
    first = (
        "CONSULTING AGREEMENT\n\nThis Agreement is made on 3 February 2025 between Alpha Ltd and Beta LLC.\n"
    )
    second = "The Consultant shall work hard. The Company shall pay. Governed by the laws of Japan.\nSigned."
    finding = find_contract([(1, first), (2, second)])
    assert finding.value("effective_date") == date(2025, 2, 3)
    [law] = finding.citations["governing_law"]
    assert (law.page, law.quote) == (2, second[law.start : law.end])
    assert finding.value("governing_law") == "Japan"


def test_unknowns_stay_unknown_nothing_is_guessed():
    text = (
        "SERVICES AGREEMENT\n\nThis Agreement is made between Alpha Ltd and Beta LLC.\n"
        "Alpha shall provide the services. Beta shall pay within 30 days of invoice.\nSigned by both parties."
    )
    finding = find_contract([(1, text)])
    assert finding.is_contract
    assert finding.value("parties") == ["Alpha Ltd", "Beta LLC"]
    for field in ("effective_date", "term_months", "expiry_date", "auto_renews", "notice_deadline"):
        assert finding.value(field) is None, field
    # Fixed dates that could be read either way stay unknown too.
    assert parse_date("03/04/2025") is None
    assert parse_date("13/04/2025") == date(2025, 4, 13)
    assert parse_date("04/13/2025") == date(2025, 4, 13)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This Agreement is made on 1 March 2025", date(2025, 3, 1)),
        ("Effective Date: March 1, 2025", date(2025, 3, 1)),
        ("effective as of the 1st day of March, 2025", date(2025, 3, 1)),
        ("dated 2025-03-01", date(2025, 3, 1)),
        ("commencing on Mar. 1st, 2025", date(2025, 3, 1)),
        ("entered into as of 31 Dec 2024", date(2024, 12, 31)),
    ],
)
def test_effective_dates_in_the_usual_english_forms(text, expected):
    body = f"AGREEMENT\n\n{text} between Alpha Ltd and Beta LLC.\nEach party shall comply. Signed."
    assert find_contract([(1, body)]).value("effective_date") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("twelve (12)", 12),
        ("12", 12),
        ("twenty-four", 24),
        ("sixty (60)", 60),
        ("one hundred and twenty", 120),
        ("a", 1),
        ("(30)", 30),
    ],
)
def test_numbers_as_words_and_digits(text, expected):
    assert parse_number(text) == expected


def test_notice_deadline_arithmetic():
    # The last day of a 12-month term from 1 March 2025, minus 60 days.
    assert term_end(date(2025, 3, 1), 12) == date(2026, 2, 28)
    assert notice_deadline(date(2026, 2, 28), 60) == date(2025, 12, 30)
    # A term from the 31st ends on the day before the same date months later.
    assert term_end(date(2025, 1, 31), 1) == date(2025, 2, 27)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert notice_deadline(None, 30) is None and notice_deadline(date(2026, 1, 1), None) is None


def test_the_next_deadline_after_a_passed_one_follows_the_renewal_terms():
    expiry, deadline = date(2026, 2, 28), date(2025, 12, 30)  # 60 days' notice
    assert next_notice_deadline(deadline, expiry, 12, date(2025, 12, 30)) == deadline
    # Renewed for a year on 1 March 2026: that term ends 28 February 2027.
    assert next_notice_deadline(deadline, expiry, 12, date(2025, 12, 31)) == date(2026, 12, 30)
    # The next term ends 29 February 2028 (a leap year): 60 days before is 31 December.
    assert next_notice_deadline(deadline, expiry, 12, date(2026, 12, 31)) == date(2027, 12, 31)
    # Monthly from a month end: no drift to the 28th.
    assert next_notice_deadline(date(2025, 1, 21), date(2025, 1, 31), 1, date(2025, 2, 1)) == date(
        2025, 2, 18
    )
    assert next_notice_deadline(date(2025, 1, 21), date(2025, 1, 31), 1, date(2025, 3, 1)) == date(
        2025, 3, 21
    )
    # Passed, and the renewal term unknown: unknown.
    assert next_notice_deadline(deadline, expiry, None, date(2026, 1, 1)) is None


def test_the_current_term_rolls_forward_from_the_first_term_end_by_the_renewal_term():
    expiry = date(2026, 2, 28)  # the first term's end
    assert current_term_end(expiry, 12, date(2026, 2, 28)) == expiry  # its last day is still in it
    assert current_term_end(expiry, 12, date(2026, 3, 1)) == date(2027, 2, 28)
    assert current_term_end(expiry, 12, date(2027, 3, 1)) == date(2028, 2, 29)  # a leap year
    assert current_term_end(expiry, 24, date(2026, 6, 1)) == date(2028, 2, 29)
    # Monthly from a month end: no drift to the 28th.
    assert current_term_end(date(2025, 1, 31), 1, date(2025, 3, 5)) == date(2025, 3, 31)
    # Not passed, or nothing known: as it is; passed with an unknown renewal term: unknown.
    assert current_term_end(expiry, None, date(2026, 1, 1)) == expiry
    assert current_term_end(expiry, None, date(2026, 3, 1)) is None
    assert current_term_end(None, 12, date(2026, 3, 1)) is None


def _scheduled(today, **values) -> Contract:
    contract = Contract(is_contract=True, **values)
    contract.schedule(today)
    return contract


def test_a_renewed_contract_expires_at_its_current_term_end_and_gives_notice_before_that():
    # A two-year contract from 1 March 2024, renewing for one year, 90 days' notice.
    first = {
        "expiry_date": date(2026, 2, 28),
        "auto_renews": True,
        "renewal_term_months": 12,
        "notice_period_days": 90,
        "notice_deadline": date(2025, 11, 30),
    }
    before = _scheduled(date(2025, 6, 1), **first)
    assert (before.current_term_end, before.next_notice_deadline) == (date(2026, 2, 28), date(2025, 11, 30))
    # A year after the first term ended: the current term ends 28 February 2027,
    # notice is due 90 days before that.
    renewed = _scheduled(date(2026, 6, 1), **first)
    assert renewed.current_term_end == date(2027, 2, 28)
    assert renewed.next_notice_deadline == date(2027, 2, 28) - timedelta(days=90) == date(2026, 11, 30)
    assert renewed.expiry_date == date(2026, 2, 28)  # the first term's end is kept
    # Inside the current term's notice period: it renews again; the next
    # deadline is the following term's.
    late = _scheduled(date(2026, 12, 15), **first)
    assert late.current_term_end == date(2027, 2, 28)
    assert late.next_notice_deadline == date(2028, 2, 29) - timedelta(days=90)


def test_a_contract_that_does_not_renew_keeps_its_expiry_date():
    ended = _scheduled(
        date(2027, 1, 1), expiry_date=date(2026, 2, 28), auto_renews=False, renewal_term_months=12
    )
    assert ended.current_term_end == date(2026, 2, 28)
    assert ended.next_notice_deadline is None
    unknown = _scheduled(date(2027, 1, 1), expiry_date=date(2026, 2, 28), auto_renews=True)
    assert unknown.current_term_end is None  # renews, for how long is unknown: not guessed


def test_the_deadline_is_computed_only_for_a_contract_that_renews():
    base = (
        "SUPPLY AGREEMENT\n\nThis Agreement is made on 1 January 2025 between Alpha Ltd and Beta LLC.\n"
        "The initial term is two (2) years. {renewal} Either party may terminate this Agreement on "
        "thirty (30) days' written notice.\nSigned by both parties."
    )
    renewing = find_contract([(1, base.format(renewal="It shall automatically renew for one-year terms."))])
    assert renewing.value("notice_deadline") == date(2026, 12, 1)
    assert {"expiry_date", "notice_deadline"} <= renewing.computed
    fixed = find_contract([(1, base.format(renewal="It shall not renew."))])
    assert fixed.value("auto_renews") is False
    assert fixed.value("notice_period_days") == 30
    assert fixed.value("notice_deadline") is None
