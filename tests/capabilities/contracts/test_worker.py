"""With a real Celery worker on cap.documents and cap.contracts: an upload's
extraction succeeds, the worker's `job_finished` starts the analysis on the
tracker's own queue, and the contract is read and billed once (the switch-on's analysis of every
document may reach it first: then it bills, and the automatic one bills nothing)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities.contracts.models import Contract
from capabilities.documents.actions import upload_documents
from capabilities.models import Job
from metering.models import UsageEvent
from tests.capabilities.contracts.conftest import eval_file, switch_on
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_upload_is_extracted_then_analysed_by_the_worker(alice, acme, media_root):
    switch_on(alice, acme)
    with celery_worker(queues="cap.documents,cap.contracts", env={"MEDIA_ROOT": str(media_root)}):
        [document] = upload_documents(
            alice, acme, [SimpleUploadedFile(*eval_file("02-saas-subscription.txt"))]
        ).documents
        # The switch-on's analysis of every document runs too, before or after
        # the extraction: whichever stores the analysis first bills it.
        wait_for(
            lambda: (
                Job.objects.filter(capability="contracts", status__in=["succeeded", "failed"]).count() == 2
            ),
            90,
            "the analyses",
        )
    job = Job.objects.get(capability="contracts", kind="analyse")
    assert (job.status, job.source, job.input) == (
        "succeeded",
        Job.Source.AUTOMATIC,
        {"document_id": document.pk},
    )
    contract = Contract.objects.get(document=document)
    assert contract.is_contract and contract.notice_deadline == date(2026, 11, 30)
    every = Job.objects.get(capability="contracts", kind="analyse_all")
    assert every.status == "succeeded"
    assert contract.analysed_by_id in (job.pk, every.pk)
    usage = UsageEvent.objects.filter(organization=acme, capability="contracts", meter="contracts")
    assert [event.quantity for event in usage] == [1]
