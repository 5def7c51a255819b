"""The contract finder: reads a document's page texts with plain rules and says
whether it reads as a contract and, if so, finds its parties, dates, term,
renewal, notice period, termination clauses and governing law, each with the
exact span of a page it was read from (`quote == page_text[start:end]`).

What the text does not say stays None: nothing is guessed. Two values are
computed, and say so: the expiry date from the effective date and the term
when the text gives no expiry (the last day of the term: 1 March 2025 plus
12 months ends on 28 February 2026), and the notice deadline, the last day to
give notice before an automatically renewing contract renews (the expiry
date minus the notice period)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from capabilities.documents.fields import MONTHS  # the month names Documents reads dates with
from capabilities.language_model import TENS, UNITS  # the number words the model check reads too

FIELDS = (
    "parties",
    "effective_date",
    "term_months",
    "expiry_date",
    "auto_renews",
    "renewal_term_months",
    "notice_period_days",
    "termination_clauses",
    "governing_law",
)
MAX_TERMINATION_CLAUSES = 5

# --- numbers: "twelve (12)", "12", "twelve", "twenty-four", "one-year" -------------
_WORD = "|".join(sorted([*UNITS, *TENS, "hundred"], key=len, reverse=True))
WORDS = rf"(?:(?:{_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD}))*)"
NUMBER = rf"(?:{WORDS}\s*\(\s*\d{{1,4}}\s*\)|\(\s*\d{{1,4}}\s*\)|\d{{1,4}}|{WORDS}|an?)"
_DURATION = (
    r"(?P<number>{number})[\s-]*(?:\(\s*\d{{1,4}}\s*\)[\s-]*)?(?:calendar\s+|business\s+)?"
    r"(?P<unit>days?|weeks?|months?|years?)\b"
)
DURATION = re.compile(_DURATION.format(number=NUMBER), re.I)
# The same, without group names, to sit inside other patterns.
DURATION_PLAIN = re.sub(r"\(\?P<\w+>", "(?:", _DURATION.format(number=NUMBER))


def parse_number(text: str) -> int | None:
    """12, "twelve", "twelve (12)", "twenty-four", "a" -> the integer."""
    digits = re.search(r"\d+", text)
    if digits:
        return int(digits.group())
    words = re.findall(r"[a-z]+", text.lower())
    if words in (["a"], ["an"]):
        return 1
    total, current = 0, 0
    for word in words:
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word != "and":
            return None
    total += current
    return total or None


def months_of(number: int, unit: str) -> int | None:
    unit = unit.lower().rstrip("s")
    return number * 12 if unit == "year" else number if unit == "month" else None


# --- dates -------------------------------------------------------------------------
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE = (
    rf"(?:(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:day\s+of\s+)?(?:{_MONTH})\.?,?\s+\d{{4}}"
    rf"|(?:{_MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}/\d{1,2}/\d{4})"
)


def parse_date(text: str) -> date | None:
    """A date in one of DATE's forms. A slashed date is read only when it can
    be read one way (03/04/2025 could be either: unknown)."""
    text = text.lower()
    try:
        if match := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
            first, second, year = int(match[1]), int(match[2]), int(match[3])
            if first > 12 >= second:
                return date(year, second, first)
            if second > 12 >= first:
                return date(year, first, second)
            if first == second:
                return date(year, first, second)
            return None
        month_name = re.search(_MONTH, text)
        numbers = [int(n) for n in re.findall(r"\d+", text)]
        if month_name and len(numbers) == 2:
            day, year = (numbers[0], numbers[1]) if numbers[1] > 31 else (numbers[1], numbers[0])
            return date(year, MONTHS[month_name.group()], day)
    except ValueError:
        return None
    return None


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def term_end(effective: date, months: int) -> date:
    """The last day of a term of `months` starting on `effective`."""
    return add_months(effective, months) - timedelta(days=1)


def notice_deadline(expiry: date | None, notice_days: int | None) -> date | None:
    """The last day to give notice: `notice_days` before the expiry date."""
    if expiry is None or notice_days is None:
        return None
    return expiry - timedelta(days=notice_days)


MAX_RENEWALS = 1200  # how far the next deadline is looked for (a monthly renewal: 100 years)


def _term_ends(expiry: date, renewal_months: int) -> Iterator[date]:
    """The end of the first term, then of each renewal term after it: counted
    from the first term's end, so month ends don't drift (31 Jan, 28 Feb, 31 Mar)."""
    yield expiry
    for renewals in range(1, MAX_RENEWALS + 1):
        yield term_end(expiry + timedelta(days=1), renewals * renewal_months)


def current_term_end(expiry: date | None, renewal_months: int | None, today: date) -> date | None:
    """The end of the term running on `today` of a contract that renews
    automatically: `expiry` (the first term's end) until it has passed, then
    the end of the renewal term running then. None when the first term has
    ended and the renewal term is unknown (nothing is guessed)."""
    if expiry is None or expiry >= today:
        return expiry
    if not renewal_months:
        return None
    return next((end for end in _term_ends(expiry, renewal_months) if end >= today), None)


def next_notice_deadline(
    deadline: date | None, expiry: date | None, renewal_months: int | None, today: date
) -> date | None:
    """The first notice deadline on or after `today`: `deadline` itself, or,
    once it has passed, the current term's end (see `current_term_end`) less
    the notice period, or the following term's when that one has passed too
    (the notice period of the current term is running: it renews). None when
    it has passed and the renewal term is unknown."""
    if deadline is None or deadline >= today:
        return deadline
    if not renewal_months:
        return None
    if expiry is None:
        # A deadline a person set on a contract whose expiry is unknown: it
        # moves by whole renewal terms.
        following = (add_months(deadline, n * renewal_months) for n in range(1, MAX_RENEWALS + 1))
        return next((when for when in following if when >= today), None)
    notice = expiry - deadline
    current = current_term_end(expiry, renewal_months, today)
    if current is None:
        return None
    return next(
        (
            end - notice
            for end in _term_ends(expiry, renewal_months)
            if end >= current and end - notice >= today
        ),
        None,
    )


# --- what was found ------------------------------------------------------------
@dataclass(frozen=True)
class Citation:
    page: int
    start: int
    end: int
    quote: str

    def as_dict(self) -> dict[str, Any]:
        return {"page": self.page, "start": self.start, "end": self.end, "quote": self.quote}


@dataclass
class Finding:
    """Each field's value (None when the text does not say) and citations (one,
    or one per termination clause); `computed` names the fields derived from
    others rather than read."""

    is_contract: bool
    values: dict[str, Any] = field(default_factory=dict)
    citations: dict[str, list[Citation]] = field(default_factory=dict)
    computed: set[str] = field(default_factory=set)

    def value(self, name: str) -> Any:
        return self.values.get(name)


@dataclass(frozen=True)
class Span:
    page: int
    text: str  # the page's whole text
    start: int
    end: int

    @property
    def quote(self) -> str:
        return self.text[self.start : self.end]

    def cite(self, start: int | None = None, end: int | None = None) -> Citation:
        start = self.start if start is None else start
        end = self.end if end is None else end
        return Citation(self.page, start, end, self.text[start:end])


ABBREVIATIONS = re.compile(
    r"(?:\b(?:inc|corp|ltd|co|no|st|mr|ms|dr|llc|plc|e\.g|i\.e|u\.s|n\.a|art|sec))$", re.I
)
LINE_STARTS_CLAUSE = re.compile(r"\s*(?:[A-Z][A-Za-z ]{0,40}:|\d+(?:\.\d+)*[.)]?\s|[-•*]\s|\(?[a-z]\)\s)")


def sentences(page: int, text: str) -> Iterator[Span]:
    """The page's sentences (and list items, labelled lines), trimmed."""
    start = 0
    length = len(text)
    index = 0
    while index < length:
        char = text[index]
        cut = False
        if char in ".!?;" and (index + 1 == length or text[index + 1].isspace()):
            cut = not (char == "." and ABBREVIATIONS.search(text[start:index]))
        elif char == "\n":
            before = text[start:index].rstrip()
            after = text[index + 1 :]
            cut = (
                not before
                or before[-1] in ".:;!?"
                or after.startswith("\n")
                or bool(LINE_STARTS_CLAUSE.match(after))
            )
        if cut:
            yield from _trimmed(page, text, start, index + 1)
            start = index + 1
        index += 1
    yield from _trimmed(page, text, start, length)


def _trimmed(page: int, text: str, start: int, end: int) -> Iterator[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield Span(page, text, start, end)


# --- is it a contract? -------------------------------------------------------------
CONTRACT_WORDS = re.compile(
    r"\b(?:this|the)\s+(?:[A-Z][\w-]*\s+){0,3}(?:agreement|contract|lease)\b|\bterms\s+and\s+conditions\b|"
    r"\b(?:agreement|contract)\b",
    re.I,
)
SIGNATURE_WORDS = re.compile(
    r"\bin\s+witness\s+whereof\b|\bsigned\b|\bsignature\b|\bauthori[sz]ed\s+"
    r"(?:signatory|representative)\b|\bexecuted\b|^\s*by:\s*_",
    re.I | re.M,
)
OBLIGATION_WORDS = re.compile(r"\b(?:shall|agrees?\s+to|hereby)\b", re.I)
INVOICE_WORDS = re.compile(
    r"\b(?:invoice\s+(?:no|number|#|date)|amount\s+due|bill\s+to|balance\s+due)\b", re.I
)


def reads_as_contract(text: str, has_parties: bool) -> bool:
    """Agreement wording, and parties or signatures, and obligations; an invoice
    that mentions its agreement is still an invoice."""
    if not CONTRACT_WORDS.search(text) or INVOICE_WORDS.search(text):
        return False
    signals = has_parties + bool(SIGNATURE_WORDS.search(text)) + (len(OBLIGATION_WORDS.findall(text)) >= 2)
    return signals >= 2


# --- the fields ----------------------------------------------------------------
NAME = r"[A-Z0-9][\w&.,'\u2019\- ]{1,80}?"
NAME_END = r"(?=\s*(?:\(|,|;|\n|\.\s|\.$|$|\s+and\s|\s+hereinafter\b|\s+[“\"]))"
BETWEEN = re.compile(
    rf"\bbetween\s+(?:the\s+following\s+parties:?\s*)?(?P<first>{NAME}){NAME_END}[^\n]*?"
    rf"\s+and\s+(?P<second>{NAME}){NAME_END}",
    re.I,
)
PARTY_LABELS = (
    r"party\s+(?:a|b|1|2|one|two)|client|customer|supplier|vendor|provider|service\s+provider|licensor|"
    r"licensee|landlord|tenant|lessor|lessee|buyer|seller|contractor|company|consultant|employer|employee"
)
LABELLED_PARTY = re.compile(rf"^[ \t]*(?:{PARTY_LABELS})[ \t]*:[ \t]*(?P<name>[^\n,(]+)", re.I | re.M)

EFFECTIVE = re.compile(
    r"\b(?:effective\s+date\s*(?:is|shall\s+be|:|means)?|effective\s+(?:as\s+of|from|on)|"
    r"(?:is\s+)?made\s+(?:and\s+entered\s+into\s+)?(?:on|as\s+of|this)|entered\s+into\s+(?:on|as\s+of|this)|"
    r"dated(?:\s+as\s+of)?|commenc\w*\s+(?:on|from)|start\s+date\s*:|commencement\s+date\s*(?::|is|shall\s+be)?)"
    rf"\s*(?:the\s+)?(?P<date>{DATE})",
    re.I,
)
EXPIRY = re.compile(
    r"\b(?:expir\w*(?:\s+date)?\s*(?:on|is|:)?|end\s+date\s*:?|(?:ends|end|terminates?)\s+on|"
    r"(?:continue|remain)[\w\s]{0,30}?\s+(?:until|through)|until|through)"
    rf"\s*(?:the\s+)?(?P<date>{DATE})",
    re.I,
)
TERM_CONTEXT = re.compile(
    r"\b(?:initial\s+term|term\s+of\s+(?:this|the)\s+(?:agreement|contract|lease)|(?<!renewal\s)term\b(?!inat)|"
    r"remain\s+in\s+(?:full\s+force\s+and\s+)?effect|for\s+a\s+period\s+of|contract\s+period|duration)",
    re.I,
)
RENEWAL = re.compile(
    r"\b(?:automatic(?:ally)?\s+(?:be\s+)?renew\w*|renew\w*\s+automatically|auto-?renew\w*|"
    r"(?:shall|will)\s+(?:be\s+)?renew\w*|evergreen|month-to-month)",
    re.I,
)
NO_RENEWAL = re.compile(
    r"\b(?:(?:shall|will|does|do)\s+not\s+(?:be\s+)?(?:automatically\s+)?renew\w*(?!\s+unless)|"
    r"no\s+automatic\s+renewal|not\s+(?:be\s+)?subject\s+to\s+(?:automatic\s+)?renewal|"
    r"without\s+automatic\s+renewal)",
    re.I,
)
NOTICE = re.compile(
    rf"(?:(?:at\s+least|not\s+less\s+than|no\s+less\s+than|minimum\s+of|upon|with|giving|gives?|"
    rf"provides?|on)\s+)?(?P<duration>{DURATION_PLAIN})[\u2019'`]?s?[\u2019']?\s+(?:prior\s+|advance\s+)?"
    r"(?:written\s+)?(?:notice|prior\s+to|before)"
    rf"|notice\s+period\s*(?::|of|is|shall\s+be)\s*(?P<labelled>{DURATION_PLAIN})",
    re.I,
)
RENEWAL_NOTICE_CONTEXT = re.compile(
    r"renew|non-renewal|not\s+to\s+renew|end\s+of\s+the\s+(?:then[-\s]current\s+|initial\s+)?term|"
    r"expir|notice\s+period",
    re.I,
)
TERMINATION = re.compile(
    r"\b(?:may\s+terminate|right\s+to\s+terminate|terminate\s+this|be\s+terminated|termination\s+for|"
    r"may\s+be\s+terminated|shall\s+terminate|entitled\s+to\s+terminate)\b",
    re.I,
)
GOVERNING_LAW = re.compile(
    r"\b(?:governed\s+by(?:,?\s+and\s+(?:shall\s+be\s+)?(?:construed|interpreted)\s+in\s+accordance\s+with,?)?"
    r"\s+(?:the\s+)?laws?\s+of|governing\s+law\s*:\s*(?:the\s+laws\s+of\s+)?|"
    r"subject\s+to\s+the\s+laws\s+of)\s*(?P<law>(?:the\s+)?[A-Z][\w.'\u2019 -]*?)"
    r"(?=\s*(?:[,.;(\n]|$|\s+(?:without|and\s+the|excluding|shall|applicable|apply|govern)))",
    re.I,
)


def _durations(span: Span) -> Iterator[re.Match[str]]:
    return DURATION.finditer(span.text, span.start, span.end)


def find_contract(pages: Iterable[tuple[int, str]]) -> Finding:
    """Read the pages (number, text) and return what they say."""
    pages = [(number, text or "") for number, text in pages]
    whole = "\n\n".join(text for _, text in pages)
    parties = _find_parties(pages)
    if not reads_as_contract(whole, parties is not None):
        return Finding(is_contract=False)
    finding = Finding(is_contract=True)

    def put(name: str, value: Any, *citations: Citation) -> None:
        if value is not None and name not in finding.values:
            finding.values[name] = value
            finding.citations[name] = list(citations)

    if parties is not None:
        put("parties", parties[0], parties[1])
    for number, text in pages:
        for match in EFFECTIVE.finditer(text):
            put("effective_date", parse_date(match["date"]), Span(number, text, *match.span()).cite())
        for match in EXPIRY.finditer(text):
            found = parse_date(match["date"])
            if found is not None and found != finding.value("effective_date"):
                put("expiry_date", found, Span(number, text, *match.span()).cite())
        for match in GOVERNING_LAW.finditer(text):
            put("governing_law", _clean_law(match["law"]), Span(number, text, *match.span()).cite())

    sentence_list = [span for number, text in pages for span in sentences(number, text)]
    notice_spans: list[tuple[Span, re.Match[str]]] = []
    for span in sentence_list:
        for match in NOTICE.finditer(span.text, span.start, span.end):
            notice_spans.append((span, match))
    _find_renewal(sentence_list, notice_spans, put)
    _find_term(sentence_list, notice_spans, put)
    _find_notice(notice_spans, finding, put)

    clauses = [
        span for span in sentence_list if TERMINATION.search(span.quote) and len(span.quote.split()) >= 6
    ][:MAX_TERMINATION_CLAUSES]
    if clauses:
        put("termination_clauses", [span.quote for span in clauses], *(span.cite() for span in clauses))

    effective, term = finding.value("effective_date"), finding.value("term_months")
    if "expiry_date" not in finding.values and effective is not None and term is not None:
        finding.values["expiry_date"] = term_end(effective, term)
        finding.citations["expiry_date"] = []
        finding.computed.add("expiry_date")
    if finding.value("auto_renews"):
        deadline = notice_deadline(finding.value("expiry_date"), finding.value("notice_period_days"))
        if deadline is not None:
            finding.values["notice_deadline"] = deadline
            finding.citations["notice_deadline"] = []
            finding.computed.add("notice_deadline")
    return finding


def _find_parties(pages: list[tuple[int, str]]) -> tuple[list[str], Citation] | None:
    for number, text in pages:
        match = BETWEEN.search(text)
        if match:
            names = [_clean_name(match["first"]), _clean_name(match["second"])]
            return names, Span(number, text, *match.span()).cite()
        labelled = list(LABELLED_PARTY.finditer(text))
        if len(labelled) >= 2:
            first, second = labelled[0], labelled[1]
            return (
                [_clean_name(first["name"]), _clean_name(second["name"])],
                Span(number, text, first.start("name"), second.end("name")).cite(
                    first.start(), second.end("name")
                ),
            )
    return None


def _clean_name(name: str) -> str:
    name = re.sub(r"\s+", " ", name).strip(" ,.;:\"“”'")
    name = re.sub(r"^(?:the\s+)", "", name, flags=re.I) if len(name.split()) > 2 else name
    return name


def _clean_law(law: str) -> str:
    law = re.sub(r"\s+", " ", law).strip(" .,")
    return (
        re.sub(
            r"^(?:the\s+)?(?:(?:state|province|commonwealth|republic|kingdom|federal\s+republic)\s+of\s+)?(?:the\s+)?",
            "",
            law,
            flags=re.I,
        )
        or law
    )


def _find_renewal(sentence_list: list[Span], notice_spans: list, put: Any) -> None:
    for span in sentence_list:
        quote = span.quote
        if NO_RENEWAL.search(quote):
            put("auto_renews", False, span.cite())
            return
        if not RENEWAL.search(quote):
            continue
        put("auto_renews", True, span.cite())
        if re.search(r"month-to-month", quote, re.I):
            put("renewal_term_months", 1, span.cite())
            return
        notices = [match.span() for owner, match in notice_spans if owner is span]
        for duration in _durations(span):
            if any(start <= duration.start() < end for start, end in notices):
                continue
            number = parse_number(duration["number"])
            months = months_of(number, duration["unit"]) if number else None
            if months:
                put("renewal_term_months", months, span.cite(*duration.span()))
                break
        return


def _find_term(sentence_list: list[Span], notice_spans: list, put: Any) -> None:
    for span in sentence_list:
        quote = span.quote
        if not TERM_CONTEXT.search(quote) or (
            RENEWAL.search(quote) and not re.search(r"initial", quote, re.I)
        ):
            continue
        notices = [match.span() for owner, match in notice_spans if owner is span]
        for duration in _durations(span):
            if any(start <= duration.start() < end for start, end in notices):
                continue
            if re.search(r"renew\w*\s+(?:\w+\s+){0,6}$", span.text[span.start : duration.start()], re.I):
                continue  # "…renew for successive one-year periods"
            number = parse_number(duration["number"])
            months = months_of(number, duration["unit"]) if number else None
            if months:
                put("term_months", months, span.cite(*duration.span()))
                return


def _find_notice(notice_spans: list[tuple[Span, re.Match[str]]], finding: Finding, put: Any) -> None:
    """The notice that stops a renewal first (said near renewal or the end of
    the term), else a labelled notice period, else the first notice."""
    ranked = sorted(
        notice_spans,
        key=lambda pair: (
            0 if RENEWAL_NOTICE_CONTEXT.search(pair[0].quote) else 1 if pair[1]["labelled"] else 2
        ),
    )
    for span, match in ranked:
        text = match["labelled"] or match["duration"]
        duration = DURATION.match(text)
        if duration is None:
            continue
        number = parse_number(duration["number"])
        if not number:
            continue
        unit = duration["unit"].lower().rstrip("s")
        days = number if unit == "day" else number * 7 if unit == "week" else None
        if days is None and unit == "month":
            # "three (3) months' notice": calendar months before the expiry,
            # counted in days once the expiry is known; unknown until then.
            expiry = finding.value("expiry_date") or _expiry_from(finding)
            if expiry is None:
                continue
            days = (expiry - add_months(expiry, -number)).days
        if days is not None:
            put("notice_period_days", days, span.cite(*match.span()))
            return


def _expiry_from(finding: Finding) -> date | None:
    effective, term = finding.value("effective_date"), finding.value("term_months")
    return term_end(effective, term) if effective is not None and term is not None else None
