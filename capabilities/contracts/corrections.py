"""The fields a person may correct, and how a corrected value is read from
what they typed (a page) or sent (the API), with errors a person understands."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from capabilities.contracts.fields import parse_date

CORRECTABLE: dict[str, str] = {
    "is_contract": "Is a contract",
    "parties": "Parties",
    "effective_date": "Effective date",
    "term_months": "Term (months)",
    "expiry_date": "Expiry date (end of the first term)",
    "auto_renews": "Renews automatically",
    "renewal_term_months": "Renewal term (months)",
    "notice_period_days": "Notice period (days)",
    "notice_deadline": "Notice deadline",
    "termination_clauses": "Termination clauses",
    "governing_law": "Governing law",
}
DATE_FIELDS = {"effective_date", "expiry_date", "notice_deadline"}
# Upper bounds: 100 years of months, 10 years of notice.
NUMBER_FIELDS = {"term_months": 1200, "renewal_term_months": 1200, "notice_period_days": 3650}
BOOLEAN_FIELDS = {"is_contract", "auto_renews"}
LIST_FIELDS = {"parties": 20, "termination_clauses": 20}
MAX_TEXT = 500
YES = {"yes", "y", "true", "1", "on"}
NO = {"no", "n", "false", "0", "off"}


class InvalidCorrection(ValueError):
    """The value cannot be a value of the field; the message says why."""


def clean_value(field: str, raw: Any) -> Any:
    """The value `raw` means for `field` (None: unknown), or InvalidCorrection."""
    if field not in CORRECTABLE:
        raise InvalidCorrection(
            f"“{field}” is not a field of a contract; choose one of {', '.join(CORRECTABLE)}."
        )
    label = CORRECTABLE[field]
    if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
        if field == "is_contract":
            raise InvalidCorrection("Say yes or no: is this document a contract?")
        return None
    if field in DATE_FIELDS:
        if not isinstance(raw, str):
            raise InvalidCorrection(f"{label}: give a date such as 2025-03-01 or 1 March 2025.")
        found = parse_date(raw.strip())
        if found is None:
            raise InvalidCorrection(f"{label}: “{raw.strip()[:40]}” is not a date; write it as 2025-03-01.")
        if not date(1900, 1, 1) <= found <= date(2200, 12, 31):
            raise InvalidCorrection(f"{label}: the year must be between 1900 and 2200.")
        return found
    if field in NUMBER_FIELDS:
        limit = NUMBER_FIELDS[field]
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise InvalidCorrection(f"{label}: give a whole number from 0 to {limit}.")
        text = str(raw).strip()
        if not re.fullmatch(r"\d{1,5}", text) or int(text) > limit:
            raise InvalidCorrection(f"{label}: give a whole number from 0 to {limit}.")
        return int(text)
    if field in BOOLEAN_FIELDS:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in YES:
            return True
        if text in NO:
            return False
        raise InvalidCorrection(f"{label}: answer yes or no.")
    if field in LIST_FIELDS:
        items = raw if isinstance(raw, list) else raw.splitlines() if isinstance(raw, str) else None
        if items is None or not all(isinstance(item, str) for item in items):
            raise InvalidCorrection(f"{label}: give a list of texts (one per line on the page).")
        items = [item.strip() for item in items if item.strip()]
        if len(items) > LIST_FIELDS[field]:
            raise InvalidCorrection(f"{label}: at most {LIST_FIELDS[field]} entries.")
        if any(len(item) > MAX_TEXT for item in items):
            raise InvalidCorrection(f"{label}: each entry may be at most {MAX_TEXT} characters.")
        return items or None
    if not isinstance(raw, str):
        raise InvalidCorrection(f"{label}: give a text.")
    if len(raw.strip()) > 200:
        raise InvalidCorrection(f"{label}: at most 200 characters.")
    return raw.strip()


def as_json(value: Any) -> Any:
    """A field's value as stored in a correction's record."""
    return value.isoformat() if isinstance(value, date) else value


def from_json(field: str, value: Any) -> Any:
    """A correction's recorded value as the field's value."""
    if value is not None and field in DATE_FIELDS:
        return date.fromisoformat(value)
    return value
