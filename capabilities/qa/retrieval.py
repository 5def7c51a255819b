"""Finding the passages that may answer a question: PostgreSQL full-text
search (any of the question's words, ranked by ts_rank) and vector similarity
(cosine distance through pgvector's HNSW index), fused by weighted reciprocal
rank fusion. Always scoped to one organization, optionally to chosen documents."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import F, QuerySet
from pgvector.django import CosineDistance

from capabilities.capability_settings import capability_setting
from capabilities.documents.models import Document
from capabilities.qa import embedding
from capabilities.qa.models import Passage
from portal.models import Organization

MODES = ("hybrid", "fulltext", "vector")
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al.)
CANDIDATES = 10  # per method, before fusion
# Full-text search ORs every word of the question, so its ranking is the
# noisier one: it counts half as much as the vector ranking in the fusion
# (bench/qa_quality.py: recall@5 0.935 against 0.887 with equal weights and 30
# candidates each, vector alone 0.919, full-text alone 0.823).
FULLTEXT_WEIGHT = 0.5
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    passage: Passage
    document_name: str
    score: float  # higher is better; comparable within one search only

    @property
    def document_id(self) -> int:
        return self.passage.document_id

    @property
    def page_number(self) -> int:
        return self.passage.page_number

    @property
    def start(self) -> int:
        return self.passage.start

    @property
    def end(self) -> int:
        return self.passage.end

    @property
    def text(self) -> str:
        return self.passage.text


def _passages(organization: Organization, documents: Sequence[Document | int] | None) -> QuerySet[Passage]:
    scoped = (
        Passage.objects.filter(organization=organization)
        .select_related("document")
        .defer("search_vector", "document__fields", "document__notes")
    )
    if documents is not None:
        ids = [item.pk if isinstance(item, Document) else item for item in documents]
        scoped = scoped.filter(document_id__in=ids)
    return scoped


def words(question: str) -> list[str]:
    return _WORD.findall(question)[:64]


def fulltext(
    organization: Organization,
    question: str,
    *,
    documents: Sequence[Document | int] | None = None,
    limit: int,
) -> list[tuple[Passage, float]]:
    """Passages holding any of the question's words (after the text search
    configuration's stemming and stop words), best ts_rank first."""
    terms = words(question)
    if not terms:
        return []
    # websearch syntax with every word OR-ed: a question's words rarely all
    # appear in one passage, and no user input can make it a syntax error.
    query = SearchQuery(
        " or ".join(terms), search_type="websearch", config=capability_setting("documents", "SEARCH_CONFIG")
    )
    rows = (
        _passages(organization, documents)
        .filter(search_vector=query)
        .annotate(rank=SearchRank(F("search_vector"), query))
        .order_by("-rank", "pk")[:limit]
    )
    return [(passage, float(passage.rank)) for passage in rows]  # type: ignore[attr-defined]


def vector(
    organization: Organization,
    question: str,
    *,
    documents: Sequence[Document | int] | None = None,
    limit: int,
    query_vector: object = None,
) -> list[tuple[Passage, float]]:
    """The passages nearest the question in meaning, by cosine similarity."""
    if query_vector is None:
        query_vector = embedding.embed([question])[0]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # pgvector ≥ 0.8: keep scanning the HNSW index until enough rows
                # pass the organization's filter (else a small tenant among
                # large ones could get fewer than `limit` passages).
                cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                cursor.execute(f"SET LOCAL hnsw.ef_search = {max(40, limit * 2):d}")
        rows = list(
            _passages(organization, documents)
            .annotate(distance=CosineDistance("embedding", query_vector))
            .order_by("distance")[:limit]
        )
    found = [(passage, 1.0 - float(passage.distance)) for passage in rows]  # type: ignore[attr-defined]
    return sorted(found, key=lambda item: -item[1])


def search(
    organization: Organization,
    question: str,
    *,
    documents: Sequence[Document | int] | None = None,
    limit: int = 5,
    mode: str = "hybrid",
) -> list[Hit]:
    """The `limit` passages most likely to answer `question`, best first."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    candidates = max(CANDIDATES, limit)
    if mode == "fulltext":
        ranked = fulltext(organization, question, documents=documents, limit=limit)
        return [Hit(passage, passage.document.name, score) for passage, score in ranked]
    if mode == "vector":
        ranked = vector(organization, question, documents=documents, limit=limit)
        return [Hit(passage, passage.document.name, score) for passage, score in ranked]
    fused: dict[int, float] = {}
    by_id: dict[int, Passage] = {}
    for weight, ranked in (
        (FULLTEXT_WEIGHT, fulltext(organization, question, documents=documents, limit=candidates)),
        (1.0, vector(organization, question, documents=documents, limit=candidates)),
    ):
        for position, (passage, _score) in enumerate(ranked, start=1):
            by_id[passage.pk] = passage
            fused[passage.pk] = fused.get(passage.pk, 0.0) + weight / (RRF_K + position)
    best = sorted(fused, key=lambda pk: (-fused[pk], pk))[:limit]
    return [Hit(by_id[pk], by_id[pk].document.name, fused[pk]) for pk in best]
