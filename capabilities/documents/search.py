"""Full-text search over an organization's pages with PostgreSQL's text search:
a tsvector per page (GIN-indexed), ranked by ts_rank, snippets by ts_headline.

Hits are marked with private-use characters that extraction strips from the
text; the snippet is HTML-escaped and only then are the markers turned into
<mark>, so a document's text can never inject markup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from capabilities.capability_settings import capability_setting
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


def has_terms(query: str) -> bool:
    return bool(re.search(r"\w", query))


def search(organization_id: int, query: str, limit: int = RESULTS) -> list[Hit]:
    """The organization's pages that match `query`, best first."""
    if not has_terms(query):
        return []
    tsquery = _pg_query(query)
    rows = (
        Page.objects.filter(organization_id=organization_id, search_vector=tsquery)
        .annotate(
            rank=SearchRank(F("search_vector"), tsquery),
            snippet=SearchHeadline(
                "text",
                tsquery,
                config=capability_setting("documents", "SEARCH_CONFIG"),
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


def highlight(page: Page, query: str) -> SafeString:
    """The whole text of `page` with the words of `query` marked."""
    if not has_terms(query):
        return _marked(page.text)
    marked = (
        Page.objects.filter(pk=page.pk)
        .annotate(
            marked=SearchHeadline(
                "text",
                _pg_query(query),
                config=capability_setting("documents", "SEARCH_CONFIG"),
                start_sel=START,
                stop_sel=STOP,
                highlight_all=True,
            )
        )
        .values_list("marked", flat=True)
        .first()
    )
    return _marked(marked if marked is not None else page.text)


def mark_span(page: Page, start: int, end: int) -> SafeString | None:
    """The whole text of `page` with `text[start:end]` marked (a quote cited
    from it, in view through `#quote`), or None when the span is not inside
    the text."""
    if not 0 <= start < end <= len(page.text):
        return None
    text = page.text
    quoted = escape(text[start:end])
    return mark_safe(  # noqa: S308  # every part is escaped
        f'{escape(text[:start])}<mark id="quote" class="quote">{quoted}</mark>{escape(text[end:])}'
    )


def pages_insert(document_id: str, organization_id: str, source: str = "") -> str:
    """The INSERT of a document's pages (number, text, method) with their
    tsvectors, rows and tsvectors in one statement (inserting them and then
    indexing them wrote every row twice). `document_id` and `organization_id`
    are SQL (placeholders, or columns of `source`, a FROM item before the
    pages); its parameters after theirs are `pages_params`."""
    return (
        f"INSERT INTO {Page._meta.db_table}"  # noqa: S608  # the model's table
        " (document_id, organization_id, number, text, method, search_vector)"
        f" SELECT {document_id}, {organization_id}, page.number, page.text, page.method,"
        " to_tsvector(%s::regconfig, page.text)"
        f" FROM {source}unnest(%s::integer[], %s::text[], %s::varchar[]) AS page (number, text, method)"
    )


def pages_params(pages: list[tuple[int, str, str]]) -> list[Any]:
    numbers, texts, methods = (list(column) for column in zip(*pages, strict=True))
    return [capability_setting("documents", "SEARCH_CONFIG"), numbers, texts, methods]


def insert_pages(document: Document, pages: list[tuple[int, str, str]]) -> None:
    """Store the document's pages (number, text, method) searchable (inside
    the caller's transaction)."""
    if not pages:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            pages_insert("%s", "%s"), [document.pk, document.organization_id, *pages_params(pages)]
        )


def index_document(document: Document) -> None:
    """Make the document's stored pages searchable (inside the caller's transaction)."""
    Page.objects.filter(document=document).update(
        search_vector=SearchVector("text", config=capability_setting("documents", "SEARCH_CONFIG"))
    )


def _pg_query(query: str) -> SearchQuery:
    # websearch: "quoted phrases", or, -excluded, and never a syntax error.
    return SearchQuery(
        query, search_type="websearch", config=capability_setting("documents", "SEARCH_CONFIG")
    )
