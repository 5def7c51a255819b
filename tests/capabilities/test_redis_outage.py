"""While Redis is unreachable the portal keeps answering from PostgreSQL, the
record (issue 12's fault run: every API request answered 500 during the
outage, and an upload answered 500 after its commit because the job's message
could not be sent). Here the cache points at a socket nobody listens on (a
real Redis client failing to connect), and the broker refuses messages."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from kombu.exceptions import OperationalError as BrokerDown

from capabilities import actions, gate, is_enabled, sweep
from capabilities.models import Job
from capabilities.runner import run_job
from portal.actions.api_keys import create_api_key

pytestmark = pytest.mark.django_db

UNREACHABLE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "unix:///nonexistent/redis-is-down.sock",
    }
}
SUMMARY_COUNT = "/api/v1/c/summaries/count/"


@pytest.fixture
def key_client(alice, acme) -> Client:
    actions.set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    _, secret = create_api_key(alice, acme, name="k", scope="manage")
    return Client(headers={"Authorization": f"Api-Key {secret}"})


@pytest.fixture
def broker_down(monkeypatch) -> list[int]:
    """The broker refuses every message, as kombu does when Redis is gone."""
    refused: list[int] = []

    def refuse(*, args, **options):
        refused.append(args[0])
        raise BrokerDown("Error 111 connecting to redis. Connection refused.")

    monkeypatch.setattr(run_job, "apply_async", refuse)
    return refused


@pytest.fixture
def redis_down(settings):
    gate.forget_snapshots()
    settings.CACHES = UNREACHABLE
    with pytest.raises(Exception):  # noqa: B017 - the real client's connection error
        cache.get("anything")
    yield
    gate.forget_snapshots()


def test_keyed_calls_are_answered_from_the_database(key_client, redis_down):
    response = key_client.get(SUMMARY_COUNT)
    assert response.status_code == 200, response.content


def test_a_job_is_stored_and_answered_when_its_message_cannot_be_sent(
    key_client, acme, redis_down, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = key_client.post(
            "/api/v1/jobs/", {"capability": "ocr", "kind": "recognize"}, content_type="application/json"
        )

    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.QUEUED  # the sweep sends it once its lease runs out
    assert broker_down == [job.pk]


def test_the_sweep_stops_at_the_first_refused_message_and_keeps_the_rest(alice, acme, monkeypatch):
    monkeypatch.setattr(run_job, "apply_async", lambda **message: None)
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    jobs = [actions.start_job(alice, acme, "ocr", kind="recognize") for _ in range(3)]
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(lease_expires_at=None)
    refused: list[int] = []

    def refuse(*, args, **options):
        refused.append(args[0])
        raise BrokerDown("Connection refused.")

    monkeypatch.setattr(run_job, "apply_async", refuse)

    result = sweep.sweep_jobs()  # no exception: beat's task ends normally

    assert len(refused) == 1
    assert result.republished == 3
    assert set(Job.objects.filter(pk__in=[job.pk for job in jobs]).values_list("status", flat=True)) == {
        "queued"
    }


def test_a_switch_commits_when_its_announcement_cannot_be_written(
    alice, acme, redis_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the announcement runs, and fails
        actions.set_capability_enabled(alice, acme, "ocr", enabled=True)

    assert is_enabled(acme, "ocr")  # this process forgot its snapshot; the database says on


def test_a_change_whose_stamp_was_lost_is_seen_within_max_age(alice, acme, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(gate, "_clock", lambda: clock[0])
    assert not is_enabled(acme, "ocr")
    # Switched on, and its announcement lost (here the commit hooks never run,
    # as when the cache was down): the stamp stays the same.
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)

    clock[0] += gate.STALENESS + 0.1
    assert not is_enabled(acme, "ocr")  # the same stamp: the snapshot is confirmed
    clock[0] += gate.MAX_AGE
    assert is_enabled(acme, "ocr")  # too old to trust, whatever the stamp


def test_the_health_page_shows_the_outage_instead_of_failing(client_for, ivan, redis_down):
    response = client_for(ivan).get("/manage/health/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Jobs: queues and workers" in page and "Usage: API calls" in page
    assert "The cache is unavailable." in page
