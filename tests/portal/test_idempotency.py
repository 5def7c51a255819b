"""Idempotency keys themselves: two requests racing for one key (real commits:
exactly one runs), an unexpected error kept as a 500 and replayed, the hourly
prune, and the header with its 409 and 422 in the OpenAPI schema of every
write that takes it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from capabilities import actions as capability_actions
from capabilities.models import Job
from portal import idempotency
from portal.actions.api_keys import create_api_key
from portal.models import IdempotencyKey
from portal.tasks import prune_idempotency_keys

REQUEST = idempotency.RequestPrint("POST", "/api/v1/jobs/", "f" * 64)


@pytest.mark.django_db(transaction=True)
def test_of_two_requests_racing_for_one_key_exactly_one_runs(acme):
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def attempt() -> None:
        start.wait()
        try:
            outcomes.append(idempotency.claim(acme.pk, "race", REQUEST))
        except idempotency.KeyRefused as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    claims = [outcome for outcome in outcomes if isinstance(outcome, idempotency.Claim)]
    assert len(claims) == 1
    assert [outcome for outcome in outcomes if not isinstance(outcome, idempotency.Claim)] == [
        "idempotency_key_in_use"
    ]
    # The claim was committed before anything ran: another connection sees it.
    assert IdempotencyKey.objects.get(pk=claims[0].pk).status == IdempotencyKey.Status.IN_PROGRESS


def test_an_unexpected_error_is_kept_as_a_500_and_replayed_never_run_again(alice, acme, monkeypatch):
    capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    _, secret = create_api_key(alice, acme, name="k", scope="manage")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    calls = []

    def broken(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("the broker fell over")

    monkeypatch.setattr(capability_actions, "start_job", broken)
    payload = {"capability": "ocr", "kind": "recognize"}
    first = client.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="boom")
    assert first.status_code == 500
    assert first.json()["code"] == "server_error"
    assert "RuntimeError" not in first.content.decode() and "broker" not in first.content.decode()
    again = client.post("/api/v1/jobs/", payload, format="json", HTTP_IDEMPOTENCY_KEY="boom")
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (500, "true", first.content)
    assert len(calls) == 1
    assert not Job.objects.exists()


def test_prune_removes_keys_older_than_a_day(acme, globex):
    now = timezone.now()
    for organization, key, age in [
        (acme, "old", timedelta(hours=25)),
        (acme, "fresh", timedelta(hours=23)),
        (globex, "old", timedelta(days=3)),
    ]:
        IdempotencyKey.objects.create(
            organization=organization,
            key=key,
            method="POST",
            path="/x",
            fingerprint="0",
            created_at=now - age,
        )
    assert prune_idempotency_keys() == 2
    assert list(IdempotencyKey.objects.values_list("organization__slug", "key")) == [("acme", "fresh")]


def test_prune_runs_hourly_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["prune-idempotency-keys"]
    assert entry["task"] == "portal.tasks.prune_idempotency_keys"
    assert entry["schedule"] == timedelta(hours=1)


IDEMPOTENT_WRITES = [
    "/api/v1/jobs/",
    "/api/v1/jobs/{job_id}/cancel",
    "/api/v1/c/documents/documents/",
    "/api/v1/c/reports/upload-sets/",
    "/api/v1/c/reports/upload-sets/{upload_set_id}/reports/",
    "/api/v1/c/notifications/rules/{rule_id}/test",
]


def test_the_schema_documents_the_header_and_its_409_and_422():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in IDEMPOTENT_WRITES:
        operation = paths[path]["post"]
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path
        assert "idempotency_key_in_use" in operation["responses"]["409"]["description"], path
        assert "idempotency_key_reused" in operation["responses"]["422"]["description"], path
    # The cancel's own 409 is still said.
    assert "`not_queued`" in paths["/api/v1/jobs/{job_id}/cancel"]["post"]["responses"]["409"]["description"]
    # Reads and other writes don't take it.
    for path, method in [("/api/v1/jobs/", "get"), ("/api/v1/c/notifications/rules/", "post")]:
        parameters = paths[path][method].get("parameters", [])
        assert "Idempotency-Key" not in [p["name"] for p in parameters], path
        assert "422" not in paths[path][method]["responses"]
