"""Fault isolation, made visible, with real workers: Text recognition's worker
is down (its jobs wait in its queue, the health page and /metrics show them
and their age, and no worker) while Documents' worker extracts; then Text
recognition's jobs fail, it becomes degraded and its IT admins hear once,
Documents stays healthy, and nothing failed is billed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from capabilities import actions, degraded, monitoring
from capabilities.documents.actions import upload_documents
from capabilities.models import Job
from metering.models import UsageEvent
from tests.capabilities.documents import samples
from tests.capabilities.test_capability_health import row
from tests.portal.health_page import health_section
from tests.workers import celery_worker, empty_queues, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DEADLINE = 120  # seconds for workers to start and run the jobs: a deadline, not a speed check
TOKEN = "scrape-token-of-the-worker-tests-0123"


def figures_of(key: str) -> monitoring.CapabilityFigures:
    return next(f for f in monitoring.capability_figures(timezone.now()) if f.capability.key == key)


def finished(capability: str) -> int:
    return Job.objects.filter(capability=capability, status__in=Job.FINISHED).count()


def scrape(client) -> dict[tuple[str, str], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        (sample.name, sample.labels.get("capability", "")): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
        if "outcome" not in sample.labels
    }


def test_one_capability_down_another_working_then_one_degraded(
    alice, acme, ivan, client, client_for, settings, tmp_path, mailoutbox
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.METRICS_TOKEN = TOKEN
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    actions.set_capability_enabled(alice, acme, "documents", enabled=True)
    empty_queues("cap.ocr", "cap.documents")  # an earlier test's messages are not this test's
    waiting = [
        actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2}) for _ in range(3)
    ]

    # Only Documents has a worker: its extractions succeed, Text recognition's jobs wait.
    with celery_worker(queues="cap.documents", env={"MEDIA_ROOT": str(settings.MEDIA_ROOT)}):
        uploads = [SimpleUploadedFile(f"note-{n}.pdf", samples.pdf(f"Note {n}")) for n in range(2)]
        upload_documents(alice, acme, uploads)
        wait_for(lambda: finished("documents") == 2, DEADLINE, "the extractions to finish")
        wait_for(lambda: figures_of("documents").workers, DEADLINE, "the worker to announce itself")

        ocr, documents = figures_of("ocr"), figures_of("documents")
        section = health_section(client_for(ivan), "Capabilities")
        samples_ = scrape(client)

    assert (ocr.jobs.queued, ocr.messages, ocr.workers) == (3, 3, [])
    assert ocr.oldest_age(timezone.now()) > 0
    assert (documents.jobs.succeeded, documents.jobs.failed, len(documents.workers or [])) == (2, 0, 1)
    text_recognition = row(section, "Text recognition")
    assert '<span class="badge badge-bad">No worker</span>' in text_recognition
    assert "Oldest waited" in text_recognition
    assert '<span class="badge badge-ok">Healthy</span>' in row(section, "Documents")
    assert samples_[("switchboard_capability_jobs_queued", "ocr")] == 3
    assert samples_[("switchboard_capability_queue_messages", "ocr")] == 3
    assert samples_[("switchboard_capability_workers", "ocr")] == 0
    assert samples_[("switchboard_capability_workers", "documents")] == 1
    assert samples_[("switchboard_capability_oldest_queued_job_age_seconds", "ocr")] > 0
    assert all(Job.objects.get(pk=job.pk).status == Job.Status.QUEUED for job in waiting)

    # Text recognition's worker starts: the waiting jobs succeed, then ten fail.
    with celery_worker(queues="cap.ocr"):
        wait_for(lambda: finished("ocr") == 3, DEADLINE, "the waiting jobs to run")
        failing = [
            actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 4, "fail": True})
            for _ in range(10)
        ]
        wait_for(lambda: finished("ocr") == 13, DEADLINE, "the failing jobs to run")
    assert {Job.objects.get(pk=job.pk).status for job in failing} == {Job.Status.FAILED}
    # The stopped worker withdrew itself.
    assert figures_of("ocr").workers == []

    assessment = degraded.assess_capabilities()
    assert assessment.degraded == ["ocr"]
    assert degraded.assess_capabilities().alerted == []
    assert [email.subject for email in mailoutbox] == ["[Switchboard] Text recognition is degraded"]
    section = health_section(client_for(ivan), "Capabilities")
    assert '<span class="badge badge-bad">Degraded</span>' in row(section, "Text recognition")
    assert "10 of 13 jobs failed" in row(section, "Text recognition")
    assert '<span class="badge badge-bad">Degraded</span>' not in row(section, "Documents")
    assert scrape(client)[("switchboard_capability_degraded", "ocr")] == 1
    assert scrape(client)[("switchboard_capability_degraded", "documents")] == 0

    # Failed jobs are never billed; the successes are, once each.
    assert not UsageEvent.objects.filter(job_id__in=[job.pk for job in failing]).exists()
    pages = UsageEvent.objects.filter(capability="ocr", meter="pages").values_list("job_id", "quantity")
    assert sorted(pages) == sorted((job.pk, 2) for job in waiting)
    assert UsageEvent.objects.filter(capability="documents", meter="pages", organization=acme).count() == 2
