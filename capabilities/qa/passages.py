"""Cutting a page's text into passages of whole sentences, about
QA_PASSAGE_CHARS long, each overlapping the previous one by whole sentences,
with exact character offsets in the page's text (`text[start:end]`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from capabilities.capability_settings import capability_setting

# A sentence ends at . ! ? (and their CJK forms, which need no space after
# them) followed by space, or at a line break; a full stop followed by a
# lowercase letter or a digit ("e.g. the", "No. 12"), or a clause number's,
# does not end one.
_BOUNDARY = re.compile(
    # . ! ? then a closing quote or bracket, but not a clause number's point ("2. Term").
    r"(?<=[.!?])(?<!\s\d\.)(?<!\s\d\d\.)[\"'\u201d\u2019)\]]*\s+(?=[^a-z0-9\s])"
    r"|(?<=[\u3002\uff01\uff1f])"  # the ideographic full stop, fullwidth ! and ?
    r"|\s*\n\s*"
)
_SPACE = re.compile(r"\s+")
WRAPPED_LINE = 50  # characters: a line this long that stops mid-sentence was wrapped


@dataclass(frozen=True)
class PassageSpan:
    page_number: int
    start: int
    end: int
    text: str


def sentences(text: str, *, longest: int | None = None) -> list[tuple[int, int]]:
    """The (start, end) offsets of the sentences of `text`, without the space
    around them. A sentence longer than `longest` characters is cut at spaces
    (or, in text without spaces, anywhere) into pieces no longer than that."""
    spans: list[tuple[int, int]] = []
    position = 0
    for boundary in [*(found for found in _BOUNDARY.finditer(text) if _ends_sentence(text, found)), None]:
        end = boundary.start() if boundary else len(text)
        start = position
        while start < end and text[start].isspace():
            start += 1
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        if stop > start:
            spans.extend(_cut(text, start, stop, longest) if longest else [(start, stop)])
        if boundary:
            position = max(boundary.end(), end)
    return spans


def _ends_sentence(text: str, boundary: re.Match[str]) -> bool:
    """Whether a boundary the pattern found ends a sentence. A single line
    break inside a sentence is a wrapped line (a PDF's text layer breaks every
    line): it is one when a long line ends inside a sentence, or when the next
    line starts in lowercase. A blank line, or the end of a short line (a
    heading, an address line), ends one."""
    gap = boundary.group()
    if "\n" not in gap or gap.count("\n") > 1 or text[boundary.start() - 1 : boundary.start()] in ".!?":
        return True
    following = text[boundary.end() : boundary.end() + 1]
    if following.islower():
        return False
    line_start = text.rfind("\n", 0, boundary.start()) + 1
    previous = text[boundary.start() - 1 : boundary.start()]
    return not (
        boundary.start() - line_start >= WRAPPED_LINE and (previous.isalnum() or previous in ",;-'\"")
    )


def _cut(text: str, start: int, end: int, longest: int) -> list[tuple[int, int]]:
    pieces = []
    while end - start > longest:
        space = text.rfind(" ", start + longest // 2, start + longest)
        stop = space if space > start else start + longest
        pieces.append((start, stop))
        start = stop
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces


@dataclass(frozen=True)
class Cut:
    """The passage settings a document is cut with (QA_PASSAGE_CHARS and
    QA_PASSAGE_OVERLAP), recorded on its passages: passages cut with other
    ones are stale and re-indexed (`manage.py qa_reindex`, or the Q&A page)."""

    chars: int
    overlap: int


def current_cut() -> Cut:
    return Cut(capability_setting("qa", "PASSAGE_CHARS"), capability_setting("qa", "PASSAGE_OVERLAP"))


def split(text: str, page_number: int, cut: Cut | None = None) -> list[PassageSpan]:
    """The passages of a page's `text`, in order, cut with `cut` (the current
    settings by default). A page without text has none."""
    cut = cut or current_cut()
    size, overlap = cut.chars, cut.overlap
    spans = sentences(text, longest=size)
    passages: list[PassageSpan] = []
    first = 0
    while first < len(spans):
        last = first
        while last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= size:
            last += 1
        start, end = spans[first][0], spans[last][1]
        passages.append(PassageSpan(page_number, start, end, text[start:end]))
        if last + 1 >= len(spans):
            break
        # The next passage starts with the last sentences of this one that fit
        # in the overlap, and always moves on by at least one sentence.
        following = last + 1
        while following - 1 > first and end - spans[following - 1][0] <= overlap:
            following -= 1
        first = following
    return passages


def normalised(text: str) -> str:
    """`text` with runs of white space as one space (for showing a quote on one line)."""
    return _SPACE.sub(" ", text).strip()
