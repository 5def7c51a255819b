"""Answers: the one to three sentences of the retrieved passages that answer
the question best, each with its citation (document, page, exact character
offsets and the quoted span). Below a confidence threshold there is no
answer, only the nearest passages: an answer is never made up."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import PurePath
from typing import Any
from urllib.parse import urlencode

import numpy as np
from django.urls import reverse

from capabilities.capability_settings import capability_setting
from capabilities.documents.models import Document, Page
from capabilities.qa import answerability, embedding, generation, passages, retrieval
from portal.models import Organization

PASSAGES = 5  # retrieved passages the sentences are chosen from
MOST = 3  # sentences in an answer
NEAR_BEST = 0.9  # a further sentence must score at least this share of the best
MIN_WORDS = 5  # a shorter sentence is a heading or a label, not an answer
EXCERPT_SIDE = 160  # characters of a nearest passage shown on each side of its closest sentence
# With no answer, a passage's closest sentence is marked only if it scored at
# least this share of QA_MIN_SCORE: a sentence far below it ("What is the
# capital of France?" against a lease) would only send the reader astray.
CLOSEST_SHARE = 0.5
LEXICAL_WEIGHT = 0.25
# How much a sentence's likeness to its document's title counts against it:
# a heading, the parties' preamble or a "Supplier: …" line says which
# document the question is about, not what it asks ("What's the termination
# clause for the imaging vendor?" is closer to "IMAGING EQUIPMENT SUPPLY AND
# SERVICE AGREEMENT" than to the clause). The title is the file's name.
TITLE_WEIGHT = 0.3
NO_ANSWER = "No answer found in your documents."
SET_ASIDE = (
    "The language model's answer was set aside (its citations or numbers did not check out against "
    "the passages, or the model server did not answer): these are the sentences that answer best."
)
# Words too common to say a sentence answers (the text search drops them too).
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "may",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "shall",
        "should",
        "that",
        "the",
        "their",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    }
)
_WORD = re.compile(r"\w+")
# Vectors of sentences (and documents' titles) kept per process (10,000, each 1.5 KB):
# questions about the same documents retrieve the same passages, whose
# sentences were most of an answer's time (about 170 ms of 200 on two cores).
sentence_vectors = embedding.VectorCache(10_000)


@dataclass(frozen=True)
class Citation:
    number: int
    document_id: int
    document_name: str
    page_number: int
    start: int  # offsets in the page's text: quote == page.text[start:end]
    end: int
    quote: str
    score: float
    url: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def display(self) -> str:
        """The quote on one line (a page's line breaks inside a sentence)."""
        return passages.normalised(self.quote)

    @property
    def percent(self) -> int:
        return max(0, min(100, round(self.score * 100)))


@dataclass(frozen=True)
class NearestPassage:
    """A passage shown with "no answer", and the sentence of it that came
    closest to answering (None when it has none long enough to answer),
    marked in an excerpt around it: the person judges, the portal does not
    claim it answers."""

    hit: retrieval.Hit
    closest: Citation | None

    def excerpt(self) -> tuple[str, str, str]:
        """The text before the closest sentence, the sentence, and the text
        after it, each side cut to about EXCERPT_SIDE characters at a word;
        without a closest sentence, the passage's beginning."""
        text = self.hit.text
        if self.closest is None:
            return "", "", _cut_after(text, 0, 2 * EXCERPT_SIDE)
        begin = self.closest.start - self.hit.start
        end = self.closest.end - self.hit.start
        return _cut_before(text, begin, EXCERPT_SIDE), text[begin:end], _cut_after(text, end, EXCERPT_SIDE)


def _cut_before(text: str, end: int, most: int) -> str:
    if end <= most:
        return text[:end]
    kept = text[end - most : end]
    return "…" + kept[kept.find(" ") + 1 :] if " " in kept else "…" + kept


def _cut_after(text: str, begin: int, most: int) -> str:
    if len(text) - begin <= most:
        return text[begin:]
    kept = text[begin : begin + most]
    return (kept[: kept.rfind(" ")] if " " in kept else kept) + "…"


@dataclass(frozen=True)
class Answer:
    question: str
    mode: str  # "extractive" or "generative"
    text: str | None  # None: no answer found
    citations: list[Citation] = field(default_factory=list)
    nearest: list[retrieval.Hit] = field(default_factory=list)  # shown when there is no answer
    note: str = ""  # e.g. why a generated answer was set aside
    # The best sentence's score, compared with QA_MIN_SCORE (0 when the
    # passages held no sentence that could answer).
    confidence: float = 0.0
    # With no answer: the sentence of each nearest passage that came closest
    # (in the passages' order; passages with no such sentence left out).
    closest: list[Citation] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.text is not None

    @property
    def nearest_passages(self) -> list[NearestPassage]:
        """The nearest passages, each with its closest sentence."""
        by_place = {citation.number: citation for citation in self.closest}
        return [NearestPassage(hit, by_place.get(place)) for place, hit in enumerate(self.nearest, 1)]


@dataclass(frozen=True)
class _Sentence:
    hit: retrieval.Hit
    start: int  # in the page's text
    end: int
    text: str


def cited_url(document_id: int, page_number: int, start: int, end: int) -> str:
    """The page of the document, with the quoted span marked and in view."""
    page = reverse("documents:page", args=[document_id, page_number])
    return f"{page}?{urlencode({'start': start, 'end': end})}#quote"


def _content_words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in STOP_WORDS and len(word) > 1}


def _overlap(question_words: set[str], sentence: str) -> float:
    """The share of the question's content words the sentence holds (a word
    counts when one is a prefix of the other of at least 4 letters: renew,
    renews, renewal)."""
    if not question_words:
        return 0.0
    found = _content_words(sentence)
    matched = 0
    for word in question_words:
        if word in found or (
            len(word) >= 4 and any(other.startswith(word[:4]) and other[:5] == word[:5] for other in found)
        ):
            matched += 1
    return matched / len(question_words)


def _sentences(hits: list[retrieval.Hit]) -> list[_Sentence]:
    """The sentences of the hits, once each (passages overlap), leaving out
    those too short to answer anything (headings: "MEMO: Warehouse move")."""
    seen: set[tuple[int, int, int]] = set()
    found = []
    for hit in hits:
        for start, end in passages.sentences(hit.text):
            at = (hit.passage.page_id, hit.start + start, hit.start + end)
            if at in seen or len(_WORD.findall(hit.text[start:end])) < MIN_WORDS:
                continue
            seen.add(at)
            found.append(_Sentence(hit, at[1], at[2], hit.text[start:end]))
    return found


def _citation(number: int, sentence: _Sentence, score: float) -> Citation:
    hit = sentence.hit
    return Citation(
        number=number,
        document_id=hit.document_id,
        document_name=hit.document_name,
        page_number=hit.page_number,
        start=sentence.start,
        end=sentence.end,
        quote=sentence.text,
        score=round(score, 4),
        url=cited_url(hit.document_id, hit.page_number, sentence.start, sentence.end),
    )


def title_of(document_name: str) -> str:
    """A document's file name as words: "imaging-vendor-agreement.pdf" reads
    "imaging vendor agreement"."""
    return re.sub(r"[-_.\s]+", " ", PurePath(document_name).stem).strip() or document_name


def score_sentences(question: str, sentences: list[_Sentence]) -> np.ndarray:
    """How well each sentence answers: cosine similarity to the question, less
    TITLE_WEIGHT of its similarity to its document's title, blended with the
    share of the question's words it holds."""
    own_titles = [title_of(sentence.hit.document_name) for sentence in sentences]
    titles = list(dict.fromkeys(own_titles))
    known = sentence_vectors([*titles, *[sentence.text for sentence in sentences]])
    title_vectors = dict(zip(titles, known[: len(titles)], strict=True))
    vectors = known[len(titles) :]
    similarity = vectors @ retrieval.question_vectors([question])[0]
    own_title = np.array([title_vectors[title] for title in own_titles])
    like_title = np.einsum("ij,ij->i", vectors, own_title)
    question_words = _content_words(question)
    lexical = np.array([_overlap(question_words, sentence.text) for sentence in sentences], dtype=np.float32)
    return (1 - LEXICAL_WEIGHT) * (similarity - TITLE_WEIGHT * like_title) + LEXICAL_WEIGHT * lexical


def answer(
    organization: Organization, question: str, *, documents: Sequence[Document | int] | None = None
) -> Answer:
    """The extractive answer to `question` from the organization's documents
    (or the chosen ones), or no answer with the nearest passages."""
    hits = retrieval.search(organization, question, documents=documents, limit=PASSAGES)
    sentences = _sentences(hits)
    if not sentences:
        return Answer(question, "extractive", None, nearest=hits)
    scores = score_sentences(question, sentences)
    order = [int(index) for index in np.argsort(-scores, kind="stable")]
    best = float(scores[order[0]])

    def no_answer(note: str = "") -> Answer:
        """No answer: the nearest passages, each with its closest sentence."""
        closest = _closest(hits, sentences, scores)
        return Answer(question, "extractive", None, nearest=hits, confidence=best, note=note, closest=closest)

    if best < capability_setting("qa", "MIN_SCORE"):
        return no_answer()
    chosen = [index for index in order[:MOST] if scores[index] >= best * NEAR_BEST]
    if capability_setting("qa", "CHECK_ANSWERS"):
        chosen, gap = _checked(question, sentences, chosen, hits)
        if gap is not None and not chosen:
            return no_answer(gap.describe())
    citations = [
        _citation(number, sentences[index], float(scores[index])) for number, index in enumerate(chosen, 1)
    ]
    text = " ".join(f"{citation.display} [{citation.number}]" for citation in citations)
    extractive = Answer(question, "extractive", text, citations=citations, nearest=hits, confidence=best)
    if not generation.configured():
        return extractive
    generated = _generative(question, hits, sentences, scores)
    return replace(generated, confidence=best) if generated else replace(extractive, note=SET_ASIDE)


def _closest(hits: list[retrieval.Hit], sentences: list[_Sentence], scores: np.ndarray) -> list[Citation]:
    """For each hit, the sentence within it that scored best (a sentence of
    overlapping passages counts for each it lies in), numbered by the hit's
    place (1 for the first); hits with no such sentence, or whose best one
    scored under CLOSEST_SHARE of QA_MIN_SCORE, are left out."""
    floor = CLOSEST_SHARE * capability_setting("qa", "MIN_SCORE")
    spans = [(sentence.hit.passage.page_id, sentence.start, sentence.end) for sentence in sentences]
    ranked = [float(score) for score in scores]
    closest = []
    for position, hit in enumerate(hits, 1):
        page, start, end = hit.passage.page_id, hit.start, hit.end
        inside = [
            index
            for index, (on_page, begin, finish) in enumerate(spans)
            if on_page == page and start <= begin and finish <= end
        ]
        if inside:
            best = max(inside, key=ranked.__getitem__)
            if ranked[best] >= floor:
                closest.append(_citation(position, sentences[best], ranked[best]))
    return closest


def _checked(
    question: str, sentences: list[_Sentence], chosen: list[int], hits: list[retrieval.Hit]
) -> tuple[list[int], answerability.Gap | None]:
    """The `chosen` sentences whose document passes answerability's checks
    (each document judged on its own), and the first objection met."""
    by_document: dict[int, list[int]] = {}
    for index in chosen:
        by_document.setdefault(sentences[index].hit.document_id, []).append(index)
    texts: dict[int, list[str]] = {}
    for document_id, text in (
        Page.objects.filter(document_id__in=by_document)
        .order_by("document_id", "number")
        .values_list("document_id", "text")
    ):
        texts.setdefault(document_id, []).append(text)
    kept: set[int] = set()
    first_gap = None
    for document_id, indexes in by_document.items():
        found = answerability.gap(
            question,
            " ".join(sentences[index].text for index in indexes),
            sentences[indexes[0]].hit.document_name,
            "\n".join(texts.get(document_id, [])),
            " ".join(hit.text for hit in hits if hit.document_id == document_id),
        )
        if found is None:
            kept.update(indexes)
        elif first_gap is None:
            first_gap = found
    return [index for index in chosen if index in kept], first_gap


def _generative(
    question: str, hits: list[retrieval.Hit], sentences: list[_Sentence], scores: np.ndarray
) -> Answer | None:
    """The model's answer written from the hits as numbered sources (source i
    is hits[i - 1]), each cited source shown by its best sentence (or the whole
    passage when none of its sentences could answer); None when the model
    server did not answer or its answer did not check out."""
    sources = [generation.Source(number, hit.text) for number, hit in enumerate(hits, 1)]
    generated = generation.write_answer(question, sources)
    if generated is None:
        return None
    citations = []
    for number in generated.cited:
        hit = hits[number - 1]
        own = [index for index, sentence in enumerate(sentences) if sentence.hit is hit]
        if own:
            best = max(own, key=lambda index: float(scores[index]))
            citations.append(_citation(number, sentences[best], float(scores[best])))
        else:
            whole = _Sentence(hit, hit.start, hit.end, hit.text)
            citations.append(_citation(number, whole, hit.score))
    return Answer(question, "generative", generated.text, citations=citations, nearest=hits)
