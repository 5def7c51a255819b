"""The extraction job: read an uploaded document page by page, store the
pages searchable, find its key fields, and count its pages on the `pages`
meter. A file that cannot be read fails the job with the reason; nothing is
billed then."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from capabilities.capability_settings import capability_setting
from capabilities.documents import actions, extraction, queries
from capabilities.documents.fields import find_fields, find_more_fields
from capabilities.documents.models import Document
from capabilities.job_context import JobContext, JobFailed
from portal.db import get_prepared

PROGRESS_INTERVAL = 0.25  # seconds between progress writes


def extract(ctx: JobContext) -> dict[str, Any]:
    """Version 1.0's extraction."""
    return _extract(ctx, find_fields)


def extract_more_fields(ctx: JobContext) -> dict[str, Any]:
    """Version 1.1's extraction (beta): the same reading, a field finder that
    also finds bank accounts, VAT numbers and due dates."""
    return _extract(ctx, find_more_fields)


def _extract(ctx: JobContext, finder: Callable[[str], dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    document_id = ctx.input.get("document_id")
    if not isinstance(document_id, int):
        raise JobFailed("This job needs the id of an uploaded document (document_id).")
    document = get_prepared(Document, id=document_id, organization_id=ctx.organization_id)
    if document is None:
        raise JobFailed("The document was deleted before it could be read.")
    try:
        with document.file.open("rb") as stored:
            content = stored.read()
    except FileNotFoundError:
        raise JobFailed("The uploaded file is missing from storage; upload it again.") from None
    content_sha256 = hashlib.sha256(content).hexdigest()
    paid = queries.paid_extraction(document, content_sha256, other_than=ctx.job.pk)
    if paid is not None:
        # Started before the other extraction finished (the API refuses it
        # after): the pages are there and were billed once; this run is free.
        return _unbilled(document.pk, document.kind, document.page_count, paid.pk)
    try:
        kind = extraction.content_kind(content, document.declared_kind)
        total, reading = extraction.open_pages(content, kind)
        limit = capability_setting("documents", "MAX_PAGES")
        if total > limit:
            raise JobFailed(f"This document has {total:,} pages; the limit is {limit:,} per document.")
        ctx.progress(0, total, every=PROGRESS_INTERVAL)
        pages = []
        for page in reading:
            pages.append(page)
            # Progress is written at most a few times a second, so fast
            # text-layer pages aren't slowed by their own progress bar (a
            # document read in a quarter of a second writes none).
            ctx.progress(len(pages), total, every=PROGRESS_INTERVAL)
    except extraction.ExtractionError as unreadable:
        raise JobFailed(str(unreadable)) from None

    notes = []
    blank = [page.number for page in pages if page.method == "none"]
    if blank and kind == "pdf" and not extraction.ocr_available():
        notes.append(
            f"{len(blank)} page(s) have no text layer and text recognition (OCR) is not installed "
            "on this server, so their text is missing."
        )
    elif blank:
        notes.append(f"{len(blank)} page(s) hold no text.")
    fields = finder("\n\n".join(page.text for page in pages))
    stored_by = actions.store_extraction(
        document, kind, pages, fields, notes, content_sha256=content_sha256, job=ctx.job
    )
    if stored_by is not None:
        # Another extraction of the same content, started at the same time,
        # stored first: its job bills these pages; this one is free.
        return _unbilled(document.pk, kind, len(pages), stored_by)
    ctx.meter("pages", len(pages))
    return {
        "document_id": document.pk,
        "kind": kind,
        "pages": len(pages),
        "ocr_pages": sum(1 for page in pages if page.method == "ocr"),
        "fields": {name: len(found) for name, found in fields.items()},
    }


def _unbilled(document_id: int, kind: str, pages: int, billed_by: int) -> dict[str, Any]:
    """The result of a run whose pages another job (`billed_by`) extracted and bills."""
    return {
        "document_id": document_id,
        "kind": kind,
        "pages": pages,
        "billed_pages": 0,
        "unchanged_since_job": billed_by,
    }
