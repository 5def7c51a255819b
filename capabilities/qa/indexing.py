"""Indexing a document for questions: its pages cut into passages, embedded,
and stored with their tsvector, replacing the document's passages in one
transaction. Replacing or deleting a document's pages deletes its passages
(the foreign keys cascade), so a re-extracted document is indexed afresh."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector
from django.db import transaction

from capabilities.capability_settings import capability_setting
from capabilities.documents import queries as documents
from capabilities.documents.models import Document, Page
from capabilities.qa import embedding, passages
from capabilities.qa.models import Passage

ATTEMPTS = 3


class PagesChanged(Exception):
    """The document's pages were replaced while its passages were computed."""


def index_document(document: Document) -> int:
    """Replace the passages of `document` with those of its current pages, cut
    with the current passage settings; returns the number of pages indexed
    (the pages that hold text). Pages replaced meanwhile (a re-extraction)
    start it over."""
    cut = passages.current_cut()
    for _attempt in range(ATTEMPTS):
        pages = list(documents.pages(document).only("pk", "number", "text"))
        spans = [(page, span) for page in pages for span in passages.split(page.text, page.number, cut)]
        vectors = embedding.embed([span.text for _page, span in spans])
        try:
            return _store(document, pages, spans, vectors, cut)
        except PagesChanged:
            continue
    raise PagesChanged(f"The pages of document {document.pk} kept changing while it was indexed")


def _store(document: Document, pages: list[Page], spans: list, vectors, cut: passages.Cut) -> int:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        # Extraction locks the document row to replace its pages: holding it,
        # the pages read above are still the document's, or they are not.
        Document.objects.select_for_update().filter(pk=document.pk).first()
        current = set(Page.objects.filter(document_id=document.pk).values_list("pk", flat=True))
        if current != {page.pk for page in pages}:
            raise PagesChanged
        Passage.objects.filter(document_id=document.pk).delete()
        Passage.objects.bulk_create(
            Passage(
                organization_id=document.organization_id,
                document_id=document.pk,
                page_id=page.pk,
                page_number=span.page_number,
                start=span.start,
                end=span.end,
                text=span.text,
                embedding=vector,
                cut_chars=cut.chars,
                cut_overlap=cut.overlap,
            )
            for (page, span), vector in zip(spans, vectors, strict=True)
        )
        Passage.objects.filter(document_id=document.pk).update(
            search_vector=SearchVector("text", config=capability_setting("documents", "SEARCH_CONFIG"))
        )
    return len({page.pk for page, _span in spans})


def is_indexed(document: Document) -> bool:
    return Passage.objects.filter(document_id=document.pk).exists()


def is_current(document: Document) -> bool:
    """Indexed, and every passage cut with the current passage settings."""
    cut = passages.current_cut()
    indexed = Passage.objects.filter(document_id=document.pk)
    return indexed.exists() and not indexed.exclude(cut_chars=cut.chars, cut_overlap=cut.overlap).exists()
