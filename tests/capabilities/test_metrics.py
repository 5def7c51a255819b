"""/metrics as a Prometheus scraper reads it: off without METRICS_TOKEN, 401
without the token and 403 with a wrong one; with it, the per-capability
figures in the text format, parsed with prometheus_client's own parser."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from capabilities import degraded
from capabilities.models import Job
from tests.capabilities.test_capability_health import finished_jobs
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-of-the-tests-0123456789"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def of(samples, name: str, capability: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted({"capability": capability, **labels}.items()))))


def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_a_scrape_needs_the_token(client, metrics_on, client_for, ivan):
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    # Signing in is not enough: an IT admin's session is no token.
    assert client_for(ivan).get("/metrics").status_code == 401


def test_the_figures_per_capability(client, metrics_on, acme):
    now = timezone.now()
    JobFactory(organization=acme, capability="ocr", queued_at=now - timedelta(minutes=5))
    JobFactory(organization=acme, capability="ocr", status=Job.Status.RUNNING, started_at=now)
    finished_jobs(acme, "ocr", succeeded=2, seconds=4)
    finished_jobs(acme, "summaries", failed=10)
    degraded.assess_capabilities()

    samples = scrape(client)
    assert of(samples, "switchboard_capability_jobs_queued", "ocr") == 1
    assert of(samples, "switchboard_capability_oldest_queued_job_age_seconds", "ocr") >= 300
    assert of(samples, "switchboard_capability_jobs_running", "ocr") == 1
    assert of(samples, "switchboard_capability_jobs_finished_last_hour", "ocr", outcome="succeeded") == 2
    assert of(samples, "switchboard_capability_jobs_finished_last_hour", "ocr", outcome="failed") == 0
    assert of(samples, "switchboard_capability_job_duration_p50_seconds", "ocr") == 4
    assert of(samples, "switchboard_capability_job_duration_p95_seconds", "ocr") == 4
    assert of(samples, "switchboard_capability_degraded", "ocr") == 0
    assert of(samples, "switchboard_capability_degraded", "summaries") == 1
    assert of(samples, "switchboard_capability_jobs_finished_last_hour", "summaries", outcome="failed") == 10
    # No jobs finished: no duration sample (a gap, not a zero).
    assert of(samples, "switchboard_capability_job_duration_p50_seconds", "glossary") is None
    # The broker answered: factories send no messages and no worker runs here.
    assert samples[("switchboard_broker_up", ())] == 1
    assert of(samples, "switchboard_capability_queue_messages", "ocr") == 0
    assert of(samples, "switchboard_capability_workers", "ocr") == 0
    # App capabilities have no health URL: no service sample.
    assert of(samples, "switchboard_capability_service_up", "ocr") is None


def test_a_scrape_costs_the_same_queries_whatever_the_jobs(client, metrics_on, acme):
    finished_jobs(acme, "ocr", succeeded=2)

    def scrape_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            scrape(client)
        return len(queries)

    before = scrape_queries()
    finished_jobs(acme, "ocr", succeeded=40, failed=40)
    finished_jobs(acme, "summaries", succeeded=40)
    for _ in range(30):
        JobFactory(organization=acme, capability="glossary")
    assert scrape_queries() == before <= 3
