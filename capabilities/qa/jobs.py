"""Jobs of Document Q&A: index one document (after its extraction), or every
document of the organization not indexed yet (when Q&A is switched on).
Each page indexed counts once on the `pages_indexed` meter."""

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
    if indexing.is_indexed(document):
        # A redelivered job, or one started again by hand: its pages have not
        # changed since (new pages delete the passages), so nothing to bill.
        return {"document_id": document.pk, "pages": 0, "already_indexed": True}
    ctx.progress(0, document.page_count)
    pages = indexing.index_document(document)
    ctx.progress(document.page_count, document.page_count)
    ctx.meter("pages_indexed", pages)
    return {"document_id": document.pk, "pages": pages}


def index_all(ctx: JobContext) -> dict[str, Any]:
    pending = list(queries.unindexed_documents(ctx.organization_id))
    total = sum(document.page_count for document in pending)
    ctx.progress(0, total)
    done = indexed_pages = 0
    for document in pending:
        if not indexing.is_indexed(document):  # an index_document job may have been quicker
            indexed_pages += indexing.index_document(document)
        done += document.page_count
        ctx.progress(done, total)
    ctx.meter("pages_indexed", indexed_pages)
    return {"documents": len(pending), "pages": indexed_pages}
