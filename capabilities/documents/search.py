"""Full-text search over an organization's pages, with one interface and two
backends picked by the database: PostgreSQL's text search (a tsvector per page,
GIN-indexed, ranked by ts_rank, snippets by ts_headline) and SQLite's FTS5 (a
virtual table this module keeps, ranked by bm25, snippets by snippet()).

Both mark hits with private-use characters that extraction strips from the
text; the snippet is HTML-escaped and only then are the markers turned into
<mark>, so a document's text can never inject markup."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from capabilities.documents.models import Document, Page

START, STOP = "\ue000", "\ue001"
RESULTS = 20


@dataclass(frozen=True)
class Hit:
    document_id: int
    document_name: str
    page_number: int
    rank: float  # higher is better, comparable within one search only
    snippet: SafeString


def _marked(text: str) -> SafeString:
    return mark_safe(escape(text).replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S308  # escaped first


def _fts_query(query: str) -> str:
    """The words of `query`, each quoted, all required: FTS5's own syntax
    (quotes, NEAR, column filters) would turn user typos into errors."""
    return " ".join(f'"{word}"' for word in re.findall(r"\w+", query))


def has_terms(query: str) -> bool:
    return bool(re.search(r"\w", query))


def search(organization_id: int, query: str, limit: int = RESULTS) -> list[Hit]:
    """The organization's pages that match `query`, best first."""
    if not has_terms(query):
        return []
    if connection.vendor == "postgresql":
        return _search_postgresql(organization_id, query, limit)
    return _search_sqlite(organization_id, query, limit)


def highlight(page: Page, query: str) -> SafeString:
    """The whole text of `page` with the words of `query` marked."""
    if not has_terms(query):
        return _marked(page.text)
    if connection.vendor == "postgresql":
        marked = (
            Page.objects.filter(pk=page.pk)
            .annotate(
                marked=SearchHeadline(
                    "text",
                    _pg_query(query),
                    config=settings.DOCUMENTS_SEARCH_CONFIG,
                    start_sel=START,
                    stop_sel=STOP,
                    highlight_all=True,
                )
            )
            .values_list("marked", flat=True)
            .first()
        )
        return _marked(marked if marked is not None else page.text)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT highlight(documents_page_fts, 0, %s, %s) FROM documents_page_fts "
            "WHERE documents_page_fts MATCH %s AND rowid = %s",
            [START, STOP, _fts_query(query), page.pk],
        )
        row = cursor.fetchone()
    return _marked(row[0] if row else page.text)


def index_document(document: Document) -> None:
    """Make the document's stored pages searchable (inside the caller's transaction)."""
    if connection.vendor == "postgresql":
        Page.objects.filter(document=document).update(
            search_vector=SearchVector("text", config=settings.DOCUMENTS_SEARCH_CONFIG)
        )
        return
    unindex_document(document)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO documents_page_fts (rowid, text, organization_id) "
            "SELECT id, text, organization_id FROM documents_page WHERE document_id = %s",
            [document.pk],
        )


def unindex_document(document: Document) -> None:
    """Forget the document's pages (before they are deleted); PostgreSQL's
    vectors go with the rows."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM documents_page_fts "
                "WHERE rowid IN (SELECT id FROM documents_page WHERE document_id = %s)",
                [document.pk],
            )


def _pg_query(query: str) -> SearchQuery:
    # websearch: "quoted phrases", or, -excluded, and never a syntax error.
    return SearchQuery(query, search_type="websearch", config=settings.DOCUMENTS_SEARCH_CONFIG)


def _search_postgresql(organization_id: int, query: str, limit: int) -> list[Hit]:
    tsquery = _pg_query(query)
    rows = (
        Page.objects.filter(organization_id=organization_id, search_vector=tsquery)
        .annotate(
            rank=SearchRank(F("search_vector"), tsquery),
            snippet=SearchHeadline(
                "text",
                tsquery,
                config=settings.DOCUMENTS_SEARCH_CONFIG,
                start_sel=START,
                stop_sel=STOP,
                max_words=30,
                min_words=12,
                max_fragments=2,
                fragment_delimiter=" … ",
            ),
        )
        .order_by("-rank", "-document_id", "number")
        .values_list("document_id", "document__name", "number", "rank", "snippet")[:limit]
    )
    return [
        Hit(doc_id, name, number, float(rank), _marked(snippet))
        for doc_id, name, number, rank, snippet in rows
    ]


def _search_sqlite(organization_id: int, query: str, limit: int) -> list[Hit]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT page.document_id, document.name, page.number, bm25(documents_page_fts) AS score,
                   snippet(documents_page_fts, 0, %s, %s, ' … ', 24)
            FROM documents_page_fts
            JOIN documents_page AS page ON page.id = documents_page_fts.rowid
            JOIN documents_document AS document ON document.id = page.document_id
            WHERE documents_page_fts MATCH %s AND documents_page_fts.organization_id = %s
            ORDER BY score, page.document_id DESC, page.number
            LIMIT %s
            """,
            [START, STOP, _fts_query(query), organization_id, limit],
        )
        rows = cursor.fetchall()
    # bm25 is lower-is-better; negate it so both backends rank higher-is-better.
    return [
        Hit(doc_id, name, number, -float(score), _marked(snippet))
        for doc_id, name, number, score, snippet in rows
    ]
