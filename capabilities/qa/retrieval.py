"""Finding the passages that may answer a question: PostgreSQL full-text
search (any of the question's words, ranked by ts_rank) and vector similarity
(cosine distance through pgvector's HNSW index), fused by a convex combination
of their scores. Always scoped to one organization, optionally to chosen
documents."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
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
CANDIDATES = 10  # per method, before fusion
# Fusion: a candidate's score is its cosine similarity plus FULLTEXT_WEIGHT
# times its ts_rank divided by the best ts_rank of the question (so 0 to 1),
# over the union of both methods' candidates. Scores, unlike ranks, keep how
# far apart the candidates are: an invoice number or an IBAN that full-text
# search finds in one passage lifts that passage even when the embedding
# model sees nothing in it, and a passage full-text search ranks tenth
# barely moves. bench/qa_quality.py, recall@5 on its 62 questions: 0.984
# with 0.2 (0.968 at 0.16 and 0.24, 0.952 at 0.1 and 0.3), against 0.935 for
# weighted reciprocal rank fusion (the previous method), 0.919 for vector
# search alone and 0.823 for full-text search alone. The weight was chosen
# on that set; on its odd- and even-numbered halves 0.2 gives 1.0 and 0.968.
FULLTEXT_WEIGHT = 0.2
_WORD = re.compile(r"\w+")
# The last questions' vectors: a question is searched for, then its answer's
# sentences are scored against it, and people ask the same question again.
question_vectors = embedding.VectorCache(1_000)


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


def text_query(question: str) -> SearchQuery | None:
    """The question as a full-text query: websearch syntax with every word
    OR-ed (a question's words rarely all appear in one passage, and no user
    input can make it a syntax error); None when it has no words."""
    terms = words(question)
    if not terms:
        return None
    return SearchQuery(
        " or ".join(terms), search_type="websearch", config=capability_setting("documents", "SEARCH_CONFIG")
    )


def fulltext(
    organization: Organization,
    question: str,
    *,
    documents: Sequence[Document | int] | None = None,
    limit: int,
) -> list[tuple[Passage, float]]:
    """Passages holding any of the question's words (after the text search
    configuration's stemming and stop words), best ts_rank first."""
    query = text_query(question)
    if query is None:
        return []
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
    ranked_by: SearchQuery | None = None,
) -> list[tuple[Passage, float]]:
    """The passages nearest the question in meaning, by cosine similarity
    (each with its ts_rank for `ranked_by` as `rank`, when given)."""
    if query_vector is None:
        query_vector = question_vectors([question])[0]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # pgvector ≥ 0.8: keep scanning the HNSW index until enough rows
                # pass the organization's filter (else a small tenant among
                # large ones could get fewer than `limit` passages).
                cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                cursor.execute(f"SET LOCAL hnsw.ef_search = {max(40, limit * 2):d}")
        distance = CosineDistance("embedding", query_vector)
        nearest = _passages(organization, documents).annotate(distance=distance)
        if ranked_by is not None:
            nearest = nearest.annotate(rank=SearchRank(F("search_vector"), ranked_by))
        rows = list(nearest.order_by("distance")[:limit])
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
    return _fused(organization, question, documents=documents, limit=limit, candidates=candidates)


def _fused(
    organization: Organization,
    question: str,
    *,
    documents: Sequence[Document | int] | None,
    limit: int,
    candidates: int,
) -> list[Hit]:
    """Both methods' candidates, each scored by its cosine similarity and its
    ts_rank relative to the best (see FULLTEXT_WEIGHT), scaled to 0..1."""
    query_vector = question_vectors([question])[0]
    query = text_query(question)
    lexical = fulltext(organization, question, documents=documents, limit=candidates)
    nearest = vector(
        organization,
        question,
        documents=documents,
        limit=candidates,
        query_vector=query_vector,
        ranked_by=query,
    )
    best_rank = max((rank for _passage, rank in lexical), default=0.0) or 1.0
    by_id: dict[int, Passage] = {}
    similarity: dict[int, float] = {}
    rank: dict[int, float] = {}
    for passage, cosine in nearest:
        by_id[passage.pk] = passage
        similarity[passage.pk] = cosine
        rank[passage.pk] = float(getattr(passage, "rank", 0.0) or 0.0)
    for passage, found_rank in lexical:
        by_id.setdefault(passage.pk, passage)
        rank[passage.pk] = found_rank
        if passage.pk not in similarity:
            stored = np.asarray(passage.embedding, dtype=np.float32)
            similarity[passage.pk] = float(np.dot(stored, query_vector))
    fused = {
        pk: (similarity[pk] + FULLTEXT_WEIGHT * min(rank[pk] / best_rank, 1.0)) / (1.0 + FULLTEXT_WEIGHT)
        for pk in by_id
    }
    best = sorted(fused, key=lambda pk: (-fused[pk], pk))[:limit]
    return [Hit(by_id[pk], by_id[pk].document.name, fused[pk]) for pk in best]
