"""Key fields found in text: dates, amounts, invoice and contract numbers, parties."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capabilities.documents.fields import AMOUNT_PATTERNS, NUMBER, find_fields

INVOICE = """ACME Corp
Invoice No: INV-2024-0042
Invoice date: 2024-03-15
Due 15.04.2024, delivered March 3, 2024 and 7 February 2024.
Bill to: Globex Corporation
Supplier: Acme Corp
Total: $1,234.56 (or EUR 1.100,00; 99 GBP; 12,50 €)
Phone 555-1234, 3/13/2024.
"""

CONTRACT = "This Agreement is made between Acme Corp (the Supplier) and Globex Inc. Contract number C-7781/B."


def test_dates_are_normalised():
    dates = find_fields(INVOICE)["dates"]
    assert [item["value"] for item in dates] == [
        "2024-03-15",
        "2024-04-15",
        "2024-03-03",
        "2024-02-07",
        "2024-03-13",  # 3/13: 13 cannot be a month, so month first
    ]


def test_impossible_dates_are_skipped():
    assert find_fields("2024-02-30 and 31.04.2024")["dates"] == []


def test_amounts_with_currency():
    amounts = find_fields(INVOICE)["amounts"]
    assert [(item["currency"], item["amount"]) for item in amounts] == [
        ("USD", "1234.56"),
        ("EUR", "1100.00"),
        ("GBP", "99"),
        ("EUR", "12.50"),
    ]


def test_numbers_without_currency_are_not_amounts():
    assert find_fields("Phone 555-1234, 42 units, order 1,000")["amounts"] == []


def test_invoice_numbers_need_a_digit():
    fields = find_fields(INVOICE + "\nInvoice details follow.")
    assert [item["value"] for item in fields["invoice_numbers"]] == ["INV-2024-0042"]


def test_contract_numbers_and_parties():
    fields = find_fields(CONTRACT)
    assert [item["value"] for item in fields["contract_numbers"]] == ["C-7781/B"]
    assert [item["value"] for item in fields["parties"]] == ["Acme Corp", "Globex Inc"]


def test_labelled_parties():
    parties = find_fields(INVOICE)["parties"]
    assert [(item["role"], item["value"]) for item in parties] == [
        ("bill to", "Globex Corporation"),
        ("supplier", "Acme Corp"),
    ]


def test_nothing_found_in_plain_prose():
    assert find_fields("The quick brown fox jumps over the lazy dog.") == {
        "dates": [],
        "amounts": [],
        "invoice_numbers": [],
        "contract_numbers": [],
        "parties": [],
    }


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Contract No. MSA-2026-0417", "MSA-2026-0417"),  # letters first (issue 13)
        ("Contract No. 2026-0417", "2026-0417"),
        ("Contract number: MSA/2026/0417", "MSA/2026/0417"),
        ("Contract # 2026.04.17-B", "2026.04.17-B"),
        ("Contract ref. c-7781/b", "c-7781/b"),
        ("Agreement Nr. FW2026X7 dated 1 May 2026", "FW2026X7"),
        ("Contract No.: LIC-12.", "LIC-12"),  # the sentence's full stop is not part of it
    ],
)
def test_contract_numbers_in_the_usual_shapes(text, number):
    assert [item["value"] for item in find_fields(text)["contract_numbers"]] == [number]


def test_a_title_word_before_the_label_does_not_hide_the_number():
    """ "Master Services Agreement" on the line above: the word "Agreement" is
    a label too, and the reference it seemed to have ("Contract") held no digit."""
    text = "Master Services Agreement\nContract No. MSA-2026-0417\nbetween Acme Corp and Globex Inc."
    assert [item["value"] for item in find_fields(text)["contract_numbers"]] == ["MSA-2026-0417"]
    text = "Commercial Invoice\nInvoice No. INV-77/A"
    assert [item["value"] for item in find_fields(text)["invoice_numbers"]] == ["INV-77/A"]


# --- version 1.1 (beta): bank accounts, VAT numbers, due dates ------------------------


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("GB82 WEST 1234 5698 7654 32", True),
        ("FR14 2004 1010 0505 0001 3M02 606", True),
        ("DE89 3704 0044 0532 0130 01", False),  # one digit off: the check fails
        ("DE89 3704", False),  # too short
    ],
)
def test_an_iban_is_kept_only_when_its_check_digits_hold(iban, valid):
    from capabilities.documents.fields import find_more_fields, iban_is_valid

    assert iban_is_valid(iban) is valid
    found = find_more_fields(f"Pay to IBAN {iban} please")["ibans"]
    assert [item["value"] for item in found] == ([iban.replace(" ", "")] if valid else [])


def test_vat_numbers_need_their_label_and_due_dates_the_word_due():
    from capabilities.documents.fields import find_more_fields

    fields = find_more_fields(
        "USt-IdNr.: DE123456789\nTVA FR 40 303265045\nOrder DE123456789 shipped\n"
        "Payable on 2024-07-15. Issued 2024-06-01."
    )
    assert [item["value"] for item in fields["vat_numbers"]] == ["DE123456789", "FR40303265045"]
    assert [item["value"] for item in fields["due_dates"]] == ["2024-07-15"]


# The number as first written: two alternatives, each starting with its digit.
PLAIN_NUMBER = r"\d{1,3}(?:[,.' ]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789,.' \nEURSDGBP€£$¥ab", max_size=40))
def test_the_amount_patterns_find_what_the_plain_number_pattern_found(text):
    """NUMBER starts with its first digit outside the alternatives (faster
    scans); it matches exactly what the plain pattern matches, everywhere."""
    for fast in AMOUNT_PATTERNS:
        plain = re.compile(fast.pattern.replace(NUMBER, PLAIN_NUMBER))
        assert plain.pattern != fast.pattern
        assert [(m.span(), m.groupdict()) for m in fast.finditer(text)] == [
            (m.span(), m.groupdict()) for m in plain.finditer(text)
        ]


def test_amounts_after_the_number_with_and_without_a_symbol_in_the_text():
    assert [a["text"] for a in find_fields("12,50 € and 99 GBP")["amounts"]] == ["12,50 €", "99 GBP"]
    assert [a["text"] for a in find_fields("99 GBP, 12 50")["amounts"]] == ["99 GBP"]
