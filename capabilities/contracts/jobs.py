"""The analysis jobs: read one document's pages for contract terms (`analyse`,
started when its extraction succeeds), or every extracted document of the
organization not analysed since its text last changed (`analyse_all`, started
when the tracker is switched on). One `contracts` unit per document that reads
as a contract, billed by the job that stored its analysis: an automatic
analysis of text another job already analysed (the two start together when the
tracker is switched on while a document is being read) stores and bills
nothing. A person asking for a document to be analysed again gets it read
again."""

from __future__ import annotations

from typing import Any

from capabilities.contracts import actions, queries
from capabilities.contracts.fields import find_contract
from capabilities.contracts.models import Contract
from capabilities.documents.models import Document
from capabilities.job_context import JobContext, JobFailed
from capabilities.models import Job

PROGRESS_INTERVAL = 0.25  # seconds between progress writes


def _analyse(document: Document, ctx: JobContext, *, unless_analysed: bool) -> Contract:
    pages = [(page.number, page.text) for page in queries.page_texts(document)]
    finding = find_contract(pages)
    return actions.store_analysis(document, finding, job=ctx.job, unless_analysed=unless_analysed)


def _billed(contract: Contract, ctx: JobContext) -> bool:
    """This job stored the analysis of a contract (not another job's analysis
    of the same text)."""
    return contract.is_contract and contract.analysed_by_id == ctx.job.pk


def analyse(ctx: JobContext) -> dict[str, Any]:
    document_id = ctx.input.get("document_id")
    if not isinstance(document_id, int):
        raise JobFailed("This job needs the id of a document (document_id).")
    document = Document.objects.filter(pk=document_id, organization_id=ctx.organization_id).first()
    if document is None:
        raise JobFailed("The document was deleted before it could be analysed.")
    if not document.extracted_sha256 and not document.page_count:
        raise JobFailed("The document's text has not been read yet; wait for its extraction to finish.")
    contract = _analyse(document, ctx, unless_analysed=ctx.job.source == Job.Source.AUTOMATIC)
    if _billed(contract, ctx):
        ctx.meter("contracts", 1)
    result: dict[str, Any] = {"document_id": document.pk, "is_contract": contract.is_contract}
    if contract.analysed_by_id != ctx.job.pk:
        result["unchanged_since_job"] = contract.analysed_by_id
    return result


def analyse_all(ctx: JobContext) -> dict[str, Any]:
    waiting = list(queries.documents_to_analyse(ctx.organization_id))
    ctx.progress(0, len(waiting))
    contracts = 0
    for done, document in enumerate(waiting, start=1):
        contracts += _billed(_analyse(document, ctx, unless_analysed=True), ctx)
        ctx.progress(done, len(waiting), every=PROGRESS_INTERVAL)
    if contracts:
        ctx.meter("contracts", contracts)
    return {"documents": len(waiting), "contracts": contracts}
