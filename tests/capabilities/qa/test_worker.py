"""With a real Celery worker on cap.documents and cap.qa: an upload's
extraction succeeds, the worker's job_finished receiver queues its indexing,
and the same worker indexes it; the pages are billed once."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities.actions import set_capability_enabled
from capabilities.documents.actions import upload_documents
from capabilities.models import Job
from capabilities.qa import answers
from capabilities.qa.models import Passage
from metering.models import UsageEvent
from tests.capabilities.documents import samples
from tests.capabilities.qa.conftest import SERVICES_AGREEMENT
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = 120  # seconds to start, extract, load the model and index; a deadline, not a speed check


def test_an_uploaded_document_is_indexed_by_the_worker_after_its_extraction(alice, acme, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    set_capability_enabled(alice, acme, "qa", enabled=True, include_related=True)
    content = samples.pdf(*SERVICES_AGREEMENT.split("\n\n", 2)[1:])
    with celery_worker(queues="cap.documents,cap.qa", env={"MEDIA_ROOT": str(settings.MEDIA_ROOT)}):
        [document] = upload_documents(alice, acme, [SimpleUploadedFile("msa.pdf", content)]).documents

        def indexed() -> bool:
            return Job.objects.filter(
                capability="qa", kind="index_document", status__in=Job.FINISHED
            ).exists()

        wait_for(indexed, WORKER_DEADLINE, "the document to be indexed")
    job = Job.objects.get(capability="qa", kind="index_document")
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.source == Job.Source.AUTOMATIC and job.input == {"document_id": document.pk}
    assert Passage.objects.filter(document=document, organization=acme).count() >= 2
    assert list(
        UsageEvent.objects.filter(capability="qa", meter="pages_indexed").values_list("quantity", flat=True)
    ) == [job.result["pages"]]
    result = answers.answer(acme, "Which law governs the agreement?")
    assert result.answered and "New York" in result.text
