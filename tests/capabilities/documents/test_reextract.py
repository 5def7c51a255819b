"""No paying twice for the same work: extracting an unchanged document again
through the jobs API is refused (400, saying why); an extraction started
before the first one finished runs free; a document whose content changed,
or whose extraction failed, is extracted (and billed) again."""

from __future__ import annotations

import hashlib

import pytest

from capabilities.actions import start_job
from capabilities.documents import actions
from capabilities.documents.extraction import PageText
from capabilities.documents.models import Document
from capabilities.models import Job
from capabilities.runner import _run
from metering.models import UsageEvent
from tests.capabilities.documents import samples
from tests.capabilities.documents.conftest import upload_file

JOBS = "/api/v1/jobs/"


def _pages_billed(organization) -> int:
    return sum(
        UsageEvent.objects.filter(
            organization=organization, capability="documents", meter="pages"
        ).values_list("quantity", flat=True)
    )


def _extract(client, document: Document):  # type: ignore[no-untyped-def]
    return client.post(
        JOBS,
        {"capability": "documents", "kind": "extract", "input": {"document_id": document.pk}},
        content_type="application/json",
    )


@pytest.fixture
def api(client_for, alice, documents_on):
    return client_for(alice)


def test_an_unchanged_document_is_not_extracted_again(api, extracted, acme):
    [document] = extracted(("a.pdf", samples.pdf("one", "two")))
    assert _pages_billed(acme) == 2
    response = _extract(api, document)
    assert response.status_code == 400, response.content
    [message] = response.json()["errors"]["input"]["document_id"]
    assert f"unchanged since job {document.job.pk} extracted it" in message
    assert "would bill the same pages twice" in message
    assert Job.objects.filter(capability="documents").count() == 1
    assert _pages_billed(acme) == 2


def test_a_document_being_extracted_is_not_extracted_twice(api, documents_on, alice, acme):
    [document] = actions.upload_documents(alice, acme, [upload_file("a.txt", b"hello")]).documents
    response = _extract(api, document)
    assert response.status_code == 400
    assert "is being extracted already" in response.json()["errors"]["input"]["document_id"][0]


def _two_extractions(alice, acme) -> tuple[Document, Job, Job]:
    """A three-page PDF uploaded (its extraction queued) and a second extraction queued."""
    [document] = actions.upload_documents(
        alice, acme, [upload_file("a.pdf", samples.pdf("a", "b", "c"))]
    ).documents
    first = document.job
    assert first is not None
    second = start_job(alice, acme, "documents", kind="extract", job_input={"document_id": document.pk})
    return document, first, second


def test_an_extraction_started_before_the_first_one_finished_runs_free(extracted, alice, acme):
    document, first, second = _two_extractions(alice, acme)
    _run(first.pk)
    _run(second.pk)
    second.refresh_from_db()
    assert second.status == Job.Status.SUCCEEDED
    assert second.result == {
        "document_id": document.pk,
        "kind": "pdf",
        "pages": 3,
        "billed_pages": 0,
        "unchanged_since_job": first.pk,
    }
    assert _pages_billed(acme) == 3
    document.refresh_from_db()
    assert document.pages.count() == 3 and document.extracted_by_id == first.pk


def test_two_extractions_reading_at_the_same_time_bill_once(alice, acme, documents_on):
    """Both jobs passed the "already paid" check (neither had stored yet); the
    first to store bills, the other finds it stored under the document's lock
    and bills nothing."""
    document, first, second = _two_extractions(alice, acme)
    # The first is still running when it stores (its result is not recorded
    # yet), so the second's check at its start does not see it as paid.
    Job.objects.filter(pk=first.pk).update(status=Job.Status.RUNNING)
    document.refresh_from_db()
    with document.file.open("rb") as stored:
        digest = hashlib.sha256(stored.read()).hexdigest()
    page = PageText(number=1, text="a", method="text")
    assert actions.store_extraction(document, "pdf", [page], {}, [], content_sha256=digest, job=first) is None

    _run(second.pk)

    second.refresh_from_db()
    assert second.status == Job.Status.SUCCEEDED
    assert (second.result["billed_pages"], second.result["unchanged_since_job"]) == (0, first.pk)
    assert _pages_billed(acme) == 0  # the first job bills its pages when its result is recorded
    document.refresh_from_db()
    assert document.extracted_by_id == first.pk


def test_changed_content_is_extracted_and_billed_again(extracted, alice, acme):
    [document] = extracted(("a.txt", b"first text"))
    with document.file.open("wb") as stored:  # the stored file replaced, as by an operator
        stored.write(b"second text")
    job = start_job(alice, acme, "documents", kind="extract", job_input={"document_id": document.pk})
    _run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and (job.result or {})["pages"] == 1
    assert _pages_billed(acme) == 2
    document.refresh_from_db()
    assert document.pages.get().text == "second text" and document.extracted_by_id == job.pk


def test_a_document_whose_extraction_failed_may_be_extracted_again(api, extracted, acme):
    [document] = extracted(("x.pdf", samples.CORRUPT_PDF))
    assert document.job.status == Job.Status.FAILED
    assert _extract(api, document).status_code == 202
