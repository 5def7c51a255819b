"""Jobs of Document Q&A: index one document (after its extraction), or every
document of the organization not indexed yet or indexed with older passage
settings (when Q&A is switched on, from the page, or `manage.py qa_reindex`).
Each page indexed from scratch counts once on the `pages_indexed` meter; a
document cut again because the passage settings changed is not billed again
(the organization asked for nothing new)."""

from __future__ import annotations

from typing import Any

from capabilities.documents.models import Document
from capabilities.job_context import JobContext, JobFailed
from capabilities.qa import indexing, queries


def index_document(ctx: JobContext) -> dict[str, Any]:
    document_id = ctx.input.get("document_id")
    if not isinstance(document_id, int):
        raise JobFailed("This job needs the id of one of your documents (document_id).")
    document = Document.objects.filter(pk=document_id, organization_id=ctx.organization_id).first()
    if document is None:
        raise JobFailed("The document was deleted before it could be indexed.")
    if indexing.is_current(document):
        # A redelivered job, or one started again by hand: its pages have not
        # changed since (new pages delete the passages), so nothing to bill.
        return {"document_id": document.pk, "pages": 0, "already_indexed": True}
    first_time = not indexing.is_indexed(document)
    ctx.progress(0, document.page_count)
    pages = indexing.index_document(document)
    ctx.progress(document.page_count, document.page_count)
    if first_time:
        ctx.meter("pages_indexed", pages)
    return {"document_id": document.pk, "pages": pages}


def index_all(ctx: JobContext) -> dict[str, Any]:
    """With `every` in its input, every document is cut again (the command's
    `--all`); otherwise those not indexed yet or indexed with older settings."""
    every = bool(ctx.input.get("every"))
    pending = list(queries.documents_to_index(ctx.organization_id, every=every))
    total = sum(document.page_count for document in pending)
    ctx.progress(0, total)
    done = indexed_pages = reindexed = 0
    for document in pending:
        first_time = not indexing.is_indexed(document)
        # An index_document job may have been quicker.
        if every or not indexing.is_current(document):
            pages = indexing.index_document(document)
            if first_time:
                indexed_pages += pages
            else:
                reindexed += 1
        done += document.page_count
        ctx.progress(done, total)
    ctx.meter("pages_indexed", indexed_pages)
    return {"documents": len(pending), "pages": indexed_pages, "reindexed": reindexed}
