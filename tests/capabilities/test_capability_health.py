"""Per-capability health as Ivan (IT admin) reads it on `/manage/health/`, and
the degraded rule: an episode starts once (audit entry, one email to the IT
admins), shows on the catalog card and the capability's page, and ends when
the failures fall below the rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from capabilities import actions, degraded, queries
from capabilities.models import CapabilityHealth, Job
from portal.models import AuditEntry
from tests.factories import JobFactory
from tests.portal.health_page import health_section
from tests.workers import free_port

pytestmark = pytest.mark.django_db


def finished_jobs(organization, capability: str, *, succeeded: int = 0, failed: int = 0, seconds: int = 2):
    """Jobs finished a minute ago that ran `seconds` each."""
    end = timezone.now() - timedelta(minutes=1)
    for status, count in ((Job.Status.SUCCEEDED, succeeded), (Job.Status.FAILED, failed)):
        for _ in range(count):
            JobFactory(
                organization=organization,
                capability=capability,
                status=status,
                started_at=end - timedelta(seconds=seconds),
                finished_at=end,
            )


def row(section: str, title: str) -> str:
    start = section.index(f'<th scope="row">{title}</th>')
    return section[start : section.index("</tr>", start)]


def test_figures_per_capability(acme):
    now = timezone.now()
    JobFactory(organization=acme, capability="ocr", queued_at=now - timedelta(minutes=7))
    JobFactory(organization=acme, capability="ocr", queued_at=now - timedelta(minutes=2))
    JobFactory(organization=acme, capability="ocr", status=Job.Status.RUNNING, started_at=now)
    finished_jobs(acme, "ocr", succeeded=3, seconds=2)
    finished_jobs(acme, "ocr", failed=1, seconds=10)
    # Outside the hour: not counted.
    JobFactory(
        organization=acme, capability="ocr", status=Job.Status.FAILED, finished_at=now - timedelta(hours=2)
    )

    figures = queries.capability_jobs(now)
    ocr = figures["ocr"]
    assert (ocr.queued, ocr.running, ocr.succeeded, ocr.failed) == (2, 1, 3, 1)
    assert ocr.oldest_queued == now - timedelta(minutes=7)
    assert ocr.duration_p50 == timedelta(seconds=2)
    # percentile_cont interpolates: 2, 2, 2, 10 -> 2 + 0.85 * 8.
    assert ocr.duration_p95 == timedelta(seconds=8.8)
    assert "summaries" not in figures


def test_ivan_reads_one_row_per_capability(client_for, ivan, acme):
    now = timezone.now()
    for _ in range(3):
        JobFactory(organization=acme, capability="ocr", queued_at=now - timedelta(minutes=7))
    finished_jobs(acme, "summaries", succeeded=4, failed=1)

    section = health_section(client_for(ivan), "Capabilities")
    ocr = row(section, "Text recognition")
    # No worker runs in this test: its jobs wait, and the row says so.
    assert '<span class="badge badge-bad">No worker</span>' in ocr
    assert "Its jobs wait until one starts." in ocr
    assert "Oldest waited 7 minutes." in ocr
    summaries = row(section, "Summaries")
    assert '<span class="badge badge-warn">No worker</span>' in summaries
    assert "4 succeeded, 1 failed" in summaries
    assert "2.0 s / 2.0 s" in summaries
    # Only app capabilities: no service to check, no such column.
    assert "Service check" not in section

    # The page's cost does not grow with the capabilities' jobs.
    client = client_for(ivan)
    with CaptureQueriesContext(connection) as before:
        client.get("/manage/health/")
    finished_jobs(acme, "ocr", succeeded=30, failed=30)
    for _ in range(20):
        JobFactory(organization=acme, capability="glossary")
    with CaptureQueriesContext(connection) as after:
        client.get("/manage/health/")
    assert len(after) == len(before)


def test_an_organization_member_cannot_read_the_health_page(client_for, alice):
    assert client_for(alice).get("/manage/health/").status_code == 403


def test_the_rule_at_its_edges(settings):
    settings.CAPABILITY_DEGRADED_FAILURE_PERCENT = 50
    settings.CAPABILITY_DEGRADED_MIN_JOBS = 10
    assert degraded.is_degraded(5, 10)
    assert not degraded.is_degraded(4, 10)
    assert not degraded.is_degraded(9, 9)  # too few jobs to judge
    assert degraded.is_degraded(10, 10)


def test_a_degraded_episode_is_alerted_once_shown_and_cleared(client_for, ivan, alice, acme, mailoutbox):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    finished_jobs(acme, "ocr", succeeded=5, failed=5)
    finished_jobs(acme, "summaries", succeeded=10, failed=4)

    first = degraded.assess_capabilities()
    assert first.degraded == ["ocr"]
    assert first.alerted == ["ocr"]
    again = degraded.assess_capabilities()
    assert (again.degraded, again.alerted) == ([], [])
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == [ivan.email]
    assert email.subject == "[Switchboard] Text recognition is degraded"
    assert "5 of the 10 jobs that finished in the last 15 minutes failed" in email.body
    assert AuditEntry.objects.filter(action="capability.degraded").count() == 1

    # Alice sees it on the catalog card and the capability's page; Summaries is fine.
    catalog = client_for(alice).get("/").content.decode()
    card = catalog[catalog.index('id="cap-ocr"') : catalog.index("</article>", catalog.index('id="cap-ocr"'))]
    assert "Degraded" in card
    summaries_card = catalog[catalog.index('id="cap-summaries"') :]
    assert "Degraded" not in summaries_card[: summaries_card.index("</article>")]
    page = client_for(alice).get("/capabilities/ocr/").content.decode()
    assert "Many of its jobs are failing" in page

    section = health_section(client_for(ivan), "Capabilities")
    assert '<span class="badge badge-bad">Degraded</span>' in row(section, "Text recognition")
    assert "5 of 10 jobs failed in the last 15 minutes" in row(section, "Text recognition")

    # Successes bring the rate below the rule: the episode ends, and the next one alerts again.
    finished_jobs(acme, "ocr", succeeded=11)
    cleared = degraded.assess_capabilities()
    assert cleared.recovered == ["ocr"]
    assert not CapabilityHealth.objects.get(capability_key="ocr").degraded_since
    assert "Degraded" not in client_for(alice).get("/capabilities/ocr/").content.decode()
    assert AuditEntry.objects.filter(action="capability.recovered").count() == 1

    finished_jobs(acme, "ocr", failed=30)
    assert degraded.assess_capabilities().alerted == ["ocr"]
    assert len(mailoutbox) == 2


def test_the_alert_is_claimed_once_and_retried_when_the_mail_fails(ivan, acme, mailoutbox, settings):
    finished_jobs(acme, "ocr", failed=10)
    # No mail server listens there: the email fails and the claim is released.
    backend = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    assert degraded.assess_capabilities().alerted == []
    assert CapabilityHealth.objects.get(capability_key="ocr").alerted_at is None
    settings.EMAIL_BACKEND = backend

    assert degraded.alert_it_admins("ocr")
    assert not degraded.alert_it_admins("ocr")  # claimed: a second process sends nothing
    assert len(mailoutbox) == 1


def test_the_table_says_so_when_the_broker_is_away(client_for, ivan, acme, monkeypatch, tmp_path, settings):
    from portal.celery import app as celery_app

    settings.METRICS_TOKEN = "t" * 32
    JobFactory(organization=acme, capability="ocr")
    # A broker nobody listens on: the pool's connections fail at once.
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis+socket://{tmp_path}/nobody.sock")
    monkeypatch.setattr(celery_app, "_pool", None)
    try:
        section = health_section(client_for(ivan), "Capabilities")
        scrape = client_for(ivan).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {'t' * 32}")
    finally:
        celery_app._pool = None  # the next user builds a pool on the real broker again
    assert '<span class="badge badge-warn">Unknown</span>' in row(section, "Text recognition")
    assert "The broker did not answer." in row(section, "Text recognition")
    assert scrape.status_code == 200
    metrics = scrape.content.decode()
    assert "switchboard_broker_up 0.0" in metrics
    assert 'switchboard_capability_jobs_queued{capability="ocr"} 1.0' in metrics
    assert "switchboard_capability_workers{" not in metrics
