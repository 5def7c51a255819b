"""Key fields found in a document's text, by plain regular expressions:

- dates: 2024-03-15, 15.03.2024 (day first), 15/03/2024 or 03/15/2024 (read
  as day/month unless only month/day is a valid date), 15 March 2024,
  March 15, 2024 (month names in English, full or three letters);
- amounts with a currency: a symbol ($ € £ ¥) or an ISO code (USD, EUR, GBP,
  CHF, JPY, CAD, AUD) before or after a number such as 1,234.56 or 1.234,56;
- invoice numbers: "Invoice No. / number / # / nr / ref" followed by a
  reference of letters, digits, "-", "/" and "." holding at least one digit
  (INV-2024-0042, MSA/2026/0417, 2026.04.17-B); contract numbers the same
  after "Contract" or "Agreement";
- parties: "between X and Y" (contracts), and lines labelled Bill to, Sold to,
  Customer, Client, Supplier, Vendor, Seller, Buyer.

Each kind keeps its first 20 distinct findings, in text order."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

LIMIT = 20
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"

DATE_PATTERNS = [
    ("ymd", re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b")),
    ("dmy_dot", re.compile(r"\b(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})\b")),
    ("slash", re.compile(r"\b(?P<first>\d{1,2})/(?P<second>\d{1,2})/(?P<year>\d{4})\b")),
    (
        "d_month_y",
        re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + MONTH + r",?\s+(?P<year>\d{4})\b", re.I),
    ),
    (
        "month_d_y",
        # Every month's name starts with one of these letters: the lookahead
        # turns most words away before the 25 names are tried.
        re.compile(
            r"\b(?=[adfjmnos])" + MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})\b", re.I
        ),
    ),
]

SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
CODES = "USD|EUR|GBP|CHF|JPY|CAD|AUD"
# 1,234.56 / 1.234,56 / 1 234 / 12.5 / 1234: digits grouped by three, or not,
# with one or two decimals. Its first digit stands outside the alternatives,
# so the number-first patterns skip to the next digit in one step instead of
# trying both alternatives at every character (the same matches, a third faster).
NUMBER = r"\d(?:\d{0,2}(?:[,.' ]\d{3})*(?:[.,]\d{1,2})?|\d*(?:[.,]\d{1,2})?)"
SYMBOL_AFTER = re.compile(r"(?P<number>" + NUMBER + r")\s?(?P<symbol>[€£])")
AMOUNT_PATTERNS = [
    re.compile(r"(?P<symbol>[$€£¥])\s?(?P<number>" + NUMBER + r")"),
    re.compile(r"\b(?P<code>" + CODES + r")\s?(?P<number>" + NUMBER + r")"),
    re.compile(r"(?P<number>" + NUMBER + r")\s?(?P<code>" + CODES + r")\b"),
    SYMBOL_AFTER,
]
DECIMALS = re.compile(r"[.,](\d{1,2})$")
SEPARATORS = re.compile(r"[.,]")

# A reference holds a digit: checked inside the pattern (a lookahead), so that a
# label followed by a plain word ("Master Services Agreement" above "Contract No.
# MSA-2026-0417") does not match, swallow the next label, and hide its number.
REFERENCE = r"(?P<reference>(?=[A-Z0-9\-/.]*\d)[A-Z0-9][A-Z0-9\-/.]{1,30}[A-Z0-9])"
LABEL_TAIL = r"\s*(?:no\.?|number|num\.?|nr\.?|#|ref\.?|reference)?\s*[:#]?\s*"
INVOICE = re.compile(r"\binvoice" + LABEL_TAIL + REFERENCE, re.I)
CONTRACT = re.compile(r"\b(?:contract|agreement)" + LABEL_TAIL + REFERENCE, re.I)

PARTY_NAME = r"([A-Z][\w&.,'\- ]{1,80}?)"
BETWEEN = re.compile(
    r"\bbetween\s+"
    + PARTY_NAME
    + r"(?:\s*\([^)]{0,60}\))?,?\s+and\s+"
    + PARTY_NAME
    + r"(?=\s*(?:\(|,|;|\.\s|\.$|\n|$))"
)
ROLES = "bill to|billed to|sold to|customer|client|supplier|vendor|seller|buyer"
LABELLED_PARTY = re.compile(r"^\s*(?P<role>" + ROLES + r")\s*:\s*(?P<name>[^\n]{2,80})$", re.I | re.M)


def find_fields(text: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "dates": _distinct(_dates(text)),
        "amounts": _distinct(_amounts(text)),
        "invoice_numbers": _distinct(_references(INVOICE, text)),
        "contract_numbers": _distinct(_references(CONTRACT, text)),
        "parties": _distinct(_parties(text)),
    }


def _distinct(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple] = set()
    kept = []
    for item in found:
        key = tuple(sorted((k, v) for k, v in item.items() if k != "text")) or (item["text"],)
        if key not in seen:
            seen.add(key)
            kept.append(item)
        if len(kept) == LIMIT:
            break
    return kept


def _date(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _dates(text: str) -> list[dict[str, Any]]:
    found: list[tuple[int, dict[str, Any]]] = []
    for name, pattern in DATE_PATTERNS:
        if name == "slash" and "/" not in text:
            continue  # it cannot match: skip its scan of every digit
        for match in pattern.finditer(text):
            parts = match.groupdict()
            year = int(parts["year"])
            if name == "slash":
                first, second = int(parts["first"]), int(parts["second"])
                value = _date(year, second, first) or _date(year, first, second)
            else:
                month_text = parts["month"]
                month = int(month_text) if month_text.isdigit() else MONTHS[month_text.lower()]
                value = _date(year, month, int(parts["day"]))
            if value:
                found.append((match.start(), {"text": match.group(0), "value": value}))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def _parse_number(raw: str) -> Decimal | None:
    """1,234.56 / 1.234,56 / 1 234,56 / 1'234.56 -> Decimal. The last separator
    followed by one or two digits is the decimal mark."""
    digits = raw.replace(" ", "").replace("'", "")
    decimal_match = DECIMALS.search(digits)
    if decimal_match:
        whole = SEPARATORS.sub("", digits[: decimal_match.start()])
        digits = f"{whole}.{decimal_match.group(1)}"
    else:
        digits = SEPARATORS.sub("", digits)
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _amounts(text: str) -> list[dict[str, Any]]:
    found: list[tuple[int, dict[str, Any]]] = []
    taken: list[range] = []
    for pattern in AMOUNT_PATTERNS:
        if pattern is SYMBOL_AFTER and "€" not in text and "£" not in text:
            continue  # it cannot match: skip its scan of every digit
        for match in pattern.finditer(text):
            if any(match.start() in span for span in taken):
                continue
            parts = match.groupdict()
            currency = parts.get("code") or SYMBOLS.get(parts.get("symbol") or "", "")
            amount = _parse_number(parts["number"].strip())
            if amount is None or not currency:
                continue
            taken.append(range(match.start(), match.end()))
            found.append(
                (
                    match.start(),
                    {"text": match.group(0).strip(), "currency": currency.upper(), "amount": str(amount)},
                )
            )
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def _references(pattern: re.Pattern[str], text: str) -> list[dict[str, Any]]:
    found = []
    for match in pattern.finditer(text):
        reference = match.group("reference").rstrip(".")
        if any(character.isdigit() for character in reference):
            found.append({"text": match.group(0).strip(), "value": reference})
    return found


def _parties(text: str) -> list[dict[str, Any]]:
    found: list[tuple[int, dict[str, Any]]] = []
    for match in BETWEEN.finditer(text) if "between" in text else ():
        for group in (1, 2):
            name = match.group(group).strip(" ,.")
            found.append((match.start(group), {"text": name, "value": name, "role": "party"}))
    for match in LABELLED_PARTY.finditer(text):
        name = match.group("name").strip(" ,.")
        role = match.group("role").lower()
        found.append((match.start(), {"text": match.group(0).strip(), "value": name, "role": role}))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


# --- Version 1.1 (beta): bank accounts, VAT numbers and due dates -------------

# An IBAN as printed: country, check digits, then the account in groups of four
# (spaces optional); kept only when its mod-97 check holds (ISO 13616).
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
VAT_COUNTRIES = "AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GB|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI"
# A VAT identification number after its label: "VAT no. DE123456789", "USt-IdNr.: DE…".
VAT = re.compile(
    r"\b(?:VAT|USt-?IdNr|TVA|IVA|BTW)\b[^\n\d]{0,20}?(?P<number>(?:"
    + VAT_COUNTRIES
    + r") ?[0-9A-Z][0-9A-Z ]{6,13}[0-9A-Z])\b",
    re.I,
)
DUE = re.compile(r"\b(?:payment\s+)?(?:due|payable)(?:\s+(?:date|by|on))?\s*[:\-]?\s*", re.I)


def iban_is_valid(candidate: str) -> bool:
    """The ISO 13616 check: the country and check digits moved to the end,
    letters as numbers (A = 10 … Z = 35), the whole number mod 97 is 1."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(character, 36)) for character in rearranged)
    return int(digits) % 97 == 1


def _ibans(text: str) -> list[dict[str, Any]]:
    return [
        {"text": match.group(0), "value": match.group(0).replace(" ", "")}
        for match in IBAN.finditer(text)
        if iban_is_valid(match.group(0))
    ]


def _vat_numbers(text: str) -> list[dict[str, Any]]:
    return [
        {"text": match.group(0).strip(), "value": match.group("number").replace(" ", "").upper()}
        for match in VAT.finditer(text)
    ]


def _due_dates(text: str) -> list[dict[str, Any]]:
    """The date right after "due", "payable", "payment due by"…"""
    found = []
    for match in DUE.finditer(text):
        following = _dates(text[match.end() : match.end() + 40])
        if following and text[match.end() :].startswith(following[0]["text"]):
            found.append(
                {"text": (match.group(0) + following[0]["text"]).strip(), "value": following[0]["value"]}
            )
    return found


def find_more_fields(text: str) -> dict[str, list[dict[str, Any]]]:
    """Version 1.1's field finder: 1.0's fields, and bank accounts (IBANs that
    pass their check), VAT numbers and payment due dates."""
    return {
        **find_fields(text),
        "due_dates": _distinct(_due_dates(text)),
        "ibans": _distinct(_ibans(text)),
        "vat_numbers": _distinct(_vat_numbers(text)),
    }
