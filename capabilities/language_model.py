"""The optional language model that capabilities may ask to write or reword
text: one call to an OpenAI-compatible chat-completions server (vLLM, Ollama,
llama.cpp's server…), and the number check that decides whether what it wrote
may be shown.

A small model invents facts (asked about a termination clause, SmolLM2 added
a "120 days of notice" no passage held), so nothing it writes is trusted: the
callers keep a text only when every number in it is one the material it was
given holds, and fall back to their own deterministic text otherwise. Any
failure of the server (refused, slow, malformed) is `None`, never an error
for the person waiting on the page."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

logger = logging.getLogger(__name__)

# A model server that does not answer within this many seconds is treated as
# absent; the caller's own text is shown instead.
DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Endpoint:
    """Where the model is served: the base URL ends before `/chat/completions`
    (`http://127.0.0.1:8080/v1`); local servers ignore the model name and key."""

    base_url: str
    model: str = ""
    api_key: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Message:
    role: str  # "system" or "user"
    content: str


def chat(endpoint: Endpoint, messages: list[Message], *, max_tokens: int = 300) -> str | None:
    """The model's reply to `messages` (temperature 0), or None when the server
    cannot be reached, times out, refuses or answers with nothing."""
    from openai import OpenAI, OpenAIError  # the SDK is only loaded where a model is configured

    client = OpenAI(
        base_url=endpoint.base_url,
        # Local servers want no key, but the SDK insists on one.
        api_key=endpoint.api_key or "none",
        timeout=endpoint.timeout,
        max_retries=0,
    )
    try:
        completion = client.chat.completions.create(
            model=endpoint.model or "default",
            messages=[{"role": message.role, "content": message.content} for message in messages],  # type: ignore[misc]
            max_tokens=max_tokens,
            temperature=0,
        )
        text = completion.choices[0].message.content if completion.choices else None
    except (OpenAIError, ValueError, TypeError, IndexError, AttributeError) as error:
        logger.warning("The language model at %s did not answer: %s", endpoint.base_url, error)
        return None
    finally:
        client.close()
    text = (text or "").strip()
    return text or None


# --- numbers ------------------------------------------------------------------

# Digits with optional thousands separators and decimals: 1,234.56 / 30 / 12.5.
# A sign is not part of the number: "fell 12.5%" restates "-12.5%".
DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
)
UNITS = {word: value for value, word in enumerate(ONES.split())}
DECADES = "twenty thirty forty fifty sixty seventy eighty ninety"
TENS = {word: value * 10 for value, word in enumerate(DECADES.split(), 2)}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
NUMBER_WORD = re.compile(
    r"\b(?:"
    + "|".join([*UNITS, *TENS, *SCALES])
    + r")(?:[\s-]+(?:and[\s-]+)?(?:"
    + "|".join([*UNITS, *TENS, *SCALES])
    + r"))*\b",
    re.IGNORECASE,
)


def _spelled(phrase: str) -> Decimal | None:
    """The value of a run of number words ("thirty-five", "two hundred and ten").
    A lone "one" is not counted: in prose it is mostly a pronoun ("the one
    that…"), and reading it as 1 would discard good answers."""
    words = [word for word in re.split(r"[\s-]+", phrase.lower()) if word and word != "and"]
    if words == ["one"]:
        return None
    total, current = 0, 0
    for word in words:
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * SCALES[word]
            current = 0
    return Decimal(total + current)


def numbers_in(text: str) -> set[Decimal]:
    """Every number written in `text`, in digits or in words, as a value:
    "$1,200.50" -> 1200.5, "12.5%" -> 12.5, "2025-03" -> 2025 and 3,
    "thirty days" -> 30. Equal values compare equal (3 == 03 == 3.0)."""
    found: set[Decimal] = set()
    for match in DIGITS.finditer(text):
        try:
            found.add(Decimal(match.group().replace(",", "")))
        except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
            continue
    for match in NUMBER_WORD.finditer(text):
        value = _spelled(match.group())
        if value is not None:
            found.add(value)
    return found


def unsupported_numbers(text: str, material: Iterable[str]) -> set[Decimal]:
    """The numbers of `text` that none of the `material` texts holds."""
    allowed: set[Decimal] = set()
    for piece in material:
        allowed |= numbers_in(piece)
    return numbers_in(text) - allowed
