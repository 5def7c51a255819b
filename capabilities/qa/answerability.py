"""Whether the sentences chosen to answer a question can answer it at all.

A high similarity score says a sentence is about the same things as the
question; it does not say the sentence answers it. "How many parking spaces
does the Manchester office have?" scores well against the Leeds lease's
parking clause. Three checks catch such near misses, each a reason people
can read:

- **Names.** A name the question gives (Manchester, Helix Genomics, April,
  2024, PO-77120) must appear in the document the answer comes from, or in
  its file name. An acronym also matches the words it abbreviates (NDA:
  non-disclosure agreement).
- **The kind of answer.** "How many hours…" needs a number and hours in the
  answer; "how quickly", "how often" and "within how long" need a time;
  "how much" and "what number" need a number; "on what date" and "which
  day" need a date or a day; "who signed…" needs the answer to say who
  signed (the verb, a word of its stem or one near in meaning).
- **The question's words.** Each of the question's words that is not a
  common one must be in the answer's document: the word, a word of the same
  stem (renew, renewal), or one the embedding model puts near it (cab, taxi).
  A question whose topic the document never mentions (a catering contract,
  a dress code) gets no answer.

These are checks, not a reading model: a sentence can pass them and still not
answer. bench/qa_quality.py reports what they catch on the evaluation set and
on a blind set written without seeing them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import snowballstemmer

from capabilities.qa import embedding

# A question's word is supported by a word of the document this close in
# meaning (cosine similarity of the embedding model's vectors).
NEAR = 0.5
# Words too common to say what a question is about: PostgreSQL's English stop
# words (those the text search drops), question words, and verbs and
# adjectives any question about any document may use.
_COMMON_WORDS = """
    a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its
    itself let's me more most mustn't my myself no nor not of off on once only or other ought our ours
    ourselves out over own same shan't she she'd she'll she's should shouldn't so some such than that
    that's the their theirs them themselves then there there's these they they'd they'll they're they've
    this those through to too under until up very was wasn't we we'd we'll we're we've were weren't what
    what's when when's where where's which while who who's whom why why's with won't would wouldn't you
    you'd you'll you're you've your yours yourself yourselves
    also anyone anything ask able allowed back early late side run runs come comes currently each either
    else ever get gets getting give given gives go goes going got happen happens happened keep kept know
    let like long make makes many
    may might much must need needs often one ones people please put quickly say says see shall soon still
    take takes tell tells thing things time times want wants way well will work works yes
"""
COMMON = frozenset(_COMMON_WORDS.split())
# "How many hours…": the unit named must be in the answer.
_HOW_MANY = re.compile(r"\bhow\s+many\s+(?:more\s+|extra\s+)?([a-z][a-z-]*)", re.IGNORECASE)
_QUANTITY = re.compile(r"\bhow\s+(?:many|much)\b|\bwhat\s+percentage\b", re.IGNORECASE)
# "What number do I call": digits, not "two scanners".
_DIGITS_WANTED = re.compile(r"\b(?:what|which)\s+(?:phone\s+|telephone\s+|fax\s+)?number\b", re.IGNORECASE)
_TIMING = re.compile(
    r"\bhow\s+(?:quickly|soon|fast|often|frequently)\b|\bwithin\s+how\b|\bhow\s+much\s+(?:time|notice)\b",
    re.IGNORECASE,
)
# "On what date…", "which days…": a date, a day of the week or of the month.
_DATE_WANTED = re.compile(r"\b(?:what|which)\s+(?:day|date|weekday)s?\b", re.IGNORECASE)
# "Who signed…", "- who do I tell": the words after a question's "who"
# (not a relative clause's: "people who have left").
_WHO = re.compile(r"(?:^|[-,;:?]\s*|\band\s+)who\s+((?:[\w'\u2019]+\s+){0,2}[\w'\u2019]+)", re.IGNORECASE)
_AUXILIARY_WORDS = (
    "do does did will would should can could must may might has have had shall i we you they he she it not"
)
_AUXILIARIES = frozenset(_AUXILIARY_WORDS.split())
_BE = frozenset(("is", "are", "was", "were", "be"))
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|"
    "million|billion|half|quarter|dozen|single|double|twice|once"
)
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_FREE = re.compile(r"\b(?:free|nil|nothing|no charge|unlimited|none)\b", re.IGNORECASE)
_UNITS = r"(?:second|minute|hour|day|week|fortnight|month|quarter|year|anniversar|business day|working day)"
_TIME = re.compile(
    rf"(?:\d|\b(?:{_NUMBER_WORDS}|a|an|each|every|per|next|same|the)\b)[\s()\d-]{{0,12}}(?:\w+\s)?{_UNITS}"
    r"|\b(?:immediately|promptly|forthwith|without\s+(?:undue\s+)?delay|daily|weekly|fortnightly|monthly|"
    r"quarterly|annually|yearly|hourly|nightly|same\s+day|next\s+day|at\s+once|as\s+soon\s+as)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[^\W\d_][\w'\u2019&-]*|\d[\d,./-]*\d|\d", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_MONTHS_AND_DAYS = frozenset(
    (
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    )
)
_DATE = re.compile(
    rf"\d|\b(?:{'|'.join(sorted(_MONTHS_AND_DAYS))}|weekdays?|weekends?|daily|"
    r"first|second|third|fourth|fifth|last|anniversary|(?:working|business|calendar)\s+days?)\b",
    re.IGNORECASE,
)
# Months that are verbs too: a name only when capitalised ("How many days may I…").
_ALSO_VERBS = frozenset(("may", "march"))
# A document with more distinct words than this is searched for words near in
# meaning only in the passages around the answer (embedding 2,000 words cold
# takes about 1.5 s on two cores; the evaluation set's documents have fewer).
VOCABULARY_EMBEDDED = 2_000
# Word vectors kept per process (20,000 words, each 1.5 KB): the words of
# documents asked about recur from question to question.
word_vectors = embedding.VectorCache(20_000)


@dataclass(frozen=True)
class Gap:
    """Why the chosen sentences cannot be the answer."""

    kind: str  # "name", "kind" or "words"
    words: tuple[str, ...] = ()
    wanted: str = ""  # for "kind": what the answer should have held

    def describe(self) -> str:
        quoted = " or ".join(f"“{word}”" for word in self.words)
        if self.kind == "name":
            return f"The passages that come closest never mention {quoted}."
        if self.kind == "kind":
            return f"The passages that come closest do not say {self.wanted}."
        return f"The passages that come closest are not about {quoted}."


@cache
def _stemmer() -> snowballstemmer.stemmer:  # type: ignore[name-defined]
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def _bare(token: str) -> str:
    """The token without a possessive ending (Radiant's, suppliers')."""
    return re.sub(r"['\u2019]s?$", "", token)


def names(question: str) -> list[str]:
    """What the question names: capitalised words past its first word (not
    "I"), codes and figures with digits, months and weekdays. Nothing when the
    question is written in title case or capitals (then case says nothing)."""
    tokens = _TOKEN.findall(question)
    letters = [token for token in tokens if token[0].isalpha()]
    if letters and sum(token[0].isupper() for token in letters) > max(2, len(letters) // 2):
        return []
    found = []
    for index, token in enumerate(tokens):
        bare = _bare(token)
        figure = any(character.isdigit() for character in bare) or (
            bare.lower() in _MONTHS_AND_DAYS and bare not in _ALSO_VERBS
        )
        if figure or (index and bare[:1].isupper() and bare != "I"):
            found.append(bare)
    return found


def _initials(text: str, length: int) -> set[str]:
    words = [word.lower() for word in _WORD.findall(text)]
    return {"".join(word[0] for word in words[begin : begin + length]) for begin in range(len(words))}


def _named_in(name: str, text: str, lowered: str) -> bool:
    """`name` occurs in the text as a word (case aside; figures with their
    separators aside), or, for an acronym, as the words it abbreviates."""
    if re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", lowered):
        return True
    if any(character.isdigit() for character in name):
        # 2,450,000 and 2450000; RIS-2024-0117 and RIS 2024 0117.
        plain = re.sub(r"[\W_]", "", name.lower())
        return plain != name.lower() and plain in re.sub(r"[\W_]", "", lowered)
    parts = [part for part in re.split(r"[-'\u2019&]", name) if part]
    if len(parts) > 1 and all(re.search(rf"(?<!\w){re.escape(part.lower())}", lowered) for part in parts):
        return True
    return name.isupper() and 2 <= len(name) <= 6 and name.lower() in _initials(text, len(name))


def terms(question: str, named: Iterable[str] = ()) -> list[str]:
    """The question's words that say what it is about: not common words, not
    names (checked as names), at least three letters."""
    skip = {name.lower() for name in named}
    found = []
    for token in _TOKEN.findall(question):
        word = _bare(token).lower()
        if not word[:1].isalpha() or word in skip or len(word) < 3:
            continue
        for part in re.split(r"[-'\u2019&]", word):
            if len(part) >= 3 and part not in COMMON and part not in found:
                found.append(part)
    return found


def unsupported(words: list[str], text: str, nearby: str | None = None) -> list[str]:
    """The `words` that `text` holds neither with the same stem nor as a word
    near in meaning (NEAR). Words near in meaning are looked for among all
    of `text`'s words, or, when it has more than VOCABULARY_EMBEDDED of them
    and `nearby` is given, among the words of `nearby` (the passages around
    the answer): the first question about a long contract would otherwise
    wait for thousands of words to be embedded."""
    vocabulary = {word.lower() for word in _WORD.findall(text)}
    stems = {_stem(word) for word in vocabulary}
    lonely = [word for word in words if _stem(word) not in stems]
    if len(vocabulary) > VOCABULARY_EMBEDDED and nearby is not None:
        vocabulary = {word.lower() for word in _WORD.findall(nearby)}
    if not lonely or not vocabulary:
        return lonely
    similarity = word_vectors(sorted(vocabulary)) @ word_vectors(lonely).T
    best = similarity.max(axis=0)
    return [word for word, score in zip(lonely, best, strict=True) if score < NEAR]


def asked_verb(question: str) -> str | None:
    """What a "who" question asks who did ("Who approved the order?":
    approved), past its auxiliaries and pronoun ("who do we book…": book);
    None for "who is…" (the answer is a name, checked as the question's
    words are) and for a common verb ("who do I tell")."""
    found = _WHO.search(question)
    if not found:
        return None
    words = [word.lower() for word in found.group(1).split()]
    if words[0] in _BE:
        return None
    verb = next((word for word in words if word not in _AUXILIARIES), None)
    return None if verb is None or verb in COMMON else _bare(verb)


def _kind_gap(question: str, answer: str) -> Gap | None:
    """The answer lacks the kind of thing the question asks for."""
    unit = _HOW_MANY.search(question)
    if unit and unit.group(1).lower() not in COMMON:
        if not _NUMBER.search(answer):
            return Gap("kind", wanted="a number")
        # The unit itself (or its stem), not a neighbour: hours are not months.
        if _stem(unit.group(1).lower()) not in {_stem(word.lower()) for word in _WORD.findall(answer)}:
            return Gap("kind", wanted=f"how many {unit.group(1).lower()}")
    if _DIGITS_WANTED.search(question) and not re.search(r"\d", answer):
        return Gap("kind", wanted="a number")
    if _TIMING.search(question) and not _TIME.search(answer):
        return Gap("kind", wanted="when or how often")
    if _QUANTITY.search(question) and not (_NUMBER.search(answer) or _FREE.search(answer)):
        return Gap("kind", wanted="a number or an amount")
    if _DATE_WANTED.search(question) and not _DATE.search(answer):
        return Gap("kind", wanted="which day or date")
    verb = asked_verb(question)
    if verb and unsupported([verb], answer):  # in the answer itself, not just its document
        return Gap("kind", wanted=f"who {verb}")
    return None


def gap(
    question: str, answer: str, document_name: str, document_text: str, nearby: str | None = None
) -> Gap | None:
    """Why `answer` (sentences of one document) cannot answer `question`,
    judged against that document's name and text (and, for words near in
    meaning, the `nearby` passages it was retrieved with; the whole text by
    default); None when no check objects. Each document is judged on its own: a question about the York
    clinic's landlord is not answered by York from one document and a
    landlord from another."""
    whole = f"{re.sub(r'[-_.]', ' ', document_name)}\n{document_text}"
    lowered = whole.lower()
    named = names(question)
    missing = [name for name in named if not _named_in(name, whole, lowered)]
    if missing:
        return Gap("name", tuple(missing))
    found = _kind_gap(question, answer)
    if found:
        return found
    lonely = unsupported(terms(question, named), whole, nearby)
    if lonely:
        return Gap("words", tuple(lonely))
    return None
