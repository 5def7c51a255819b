"""Indexing: a document whose extraction succeeds is indexed when Q&A is on,
its pages billed once on `pages_indexed`; switching Q&A on indexes the
documents already there, with progress; new pages replace the passages."""

from __future__ import annotations

from capabilities.actions import start_job
from capabilities.documents import actions as documents
from capabilities.documents.extraction import PageText
from capabilities.documents.models import Page
from capabilities.models import Job
from capabilities.qa import indexing
from capabilities.qa.models import Passage
from capabilities.runner import _run
from metering.models import UsageEvent
from tests.capabilities.documents import samples
from tests.capabilities.qa.conftest import SERVICES_AGREEMENT, WAREHOUSE_MEMO, run_queued


def _indexed_pages(organization) -> int:
    return sum(
        UsageEvent.objects.filter(
            organization=organization, capability="qa", meter="pages_indexed"
        ).values_list("quantity", flat=True)
    )


def test_an_extracted_document_is_indexed_and_its_pages_billed(qa_on, uploaded, acme):
    [document] = uploaded(("contract.pdf", samples.pdf("Term and renewal.", "", "Termination with notice.")))
    job = Job.objects.get(capability="qa", kind="index_document")
    assert job.status == Job.Status.SUCCEEDED and job.source == Job.Source.AUTOMATIC
    assert job.input == {"document_id": document.pk}
    stored = list(Passage.objects.filter(document=document))
    assert {passage.page_number for passage in stored} == {1, 3}  # page 2 holds no text
    for passage in stored:
        page = Page.objects.get(document=document, number=passage.page_number)
        assert passage.text == page.text[passage.start : passage.end]
        assert passage.page_id == page.pk and passage.organization_id == acme.pk
    assert job.result["pages"] == 2
    assert _indexed_pages(acme) == 2


def test_nothing_is_indexed_while_qa_is_off(documents_on_only, uploaded, acme):
    uploaded(("memo.txt", WAREHOUSE_MEMO))
    assert not Job.objects.filter(capability="qa").exists()
    assert not Passage.objects.exists()


def test_a_second_run_of_the_indexing_bills_nothing(qa_on, uploaded, acme, alice):
    [document] = uploaded(("memo.txt", WAREHOUSE_MEMO))
    first = set(Passage.objects.filter(document=document).values_list("pk", flat=True))
    again = start_job(alice, acme, "qa", kind="index_document", job_input={"document_id": document.pk})
    _run(again.pk)
    again.refresh_from_db()
    assert again.result == {"document_id": document.pk, "pages": 0, "already_indexed": True}
    assert set(Passage.objects.filter(document=document).values_list("pk", flat=True)) == first
    assert _indexed_pages(acme) == 1


def test_new_pages_replace_the_passages(qa_on, uploaded, acme):
    [document] = uploaded(("memo.txt", WAREHOUSE_MEMO))
    assert Passage.objects.filter(document=document, text__contains="Harbor Street").exists()
    # A re-extraction replaces the pages: their passages go with them, and
    # indexing the new pages stores new ones.
    documents.store_extraction(
        document,
        "txt",
        [samples_page(1, "The warehouse stays in Quincy. Nothing moves this spring.")],
        {},
        [],
        content_sha256="x" * 64,
        job=document.job,
    )
    assert not Passage.objects.filter(document=document).exists()
    assert indexing.index_document(document) == 1
    texts = list(Passage.objects.filter(document=document).values_list("text", flat=True))
    assert texts == ["The warehouse stays in Quincy. Nothing moves this spring."]


def test_deleting_a_document_deletes_its_passages(qa_on, uploaded):
    [document, other] = uploaded(("memo.txt", WAREHOUSE_MEMO), ("msa.txt", SERVICES_AGREEMENT))
    document.delete()
    assert not Passage.objects.filter(document_id=document.pk).exists()
    assert Passage.objects.filter(document=other).exists()


def test_switching_qa_on_indexes_existing_documents_with_progress(
    documents_on_only, uploaded, switch, alice, acme
):
    uploaded(("memo.txt", WAREHOUSE_MEMO), ("msa.txt", SERVICES_AGREEMENT), ("empty.pdf", samples.pdf("")))
    assert not Passage.objects.exists()
    switch(alice, acme, "qa")
    [job] = Job.objects.filter(capability="qa")
    assert (job.kind, job.source, job.status) == ("index_all", Job.Source.AUTOMATIC, Job.Status.QUEUED)
    run_queued(acme, "qa")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.result == {"documents": 2, "pages": 2, "reindexed": 0}
    assert (job.progress_done, job.progress_total) == (2, 2)
    assert Passage.objects.filter(organization=acme).values("document").distinct().count() == 2
    assert _indexed_pages(acme) == 2
    # Switching off and on again: everything is indexed, no job.
    switch(alice, acme, "qa", enabled=False)
    switch(alice, acme, "qa")
    assert Job.objects.filter(capability="qa").count() == 1


def samples_page(number: int, text: str) -> PageText:
    return PageText(number=number, text=text, method="text")
