"""The jobs API: `POST /api/v1/jobs/` answers 202 with the queued job, a
switched-off capability 403 `capability_disabled`, bad requests 400 `invalid`;
the paginated, filtered list; one job (never another organization's); cancel a
queued job, 409 `not_queued` otherwise. Callers are people with a session and
organization API keys.

Jobs started here stay queued: the test transaction never commits, so nothing
is sent to a worker.

One module for the jobs endpoints (one module per endpoint family, STYLE rule 11).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from capabilities.models import Job
from capabilities.runner import _run
from metering.models import UsageEvent
from portal.actions.api_keys import create_api_key
from portal.models import AuditEntry
from tests.capabilities.state import api_key_client
from tests.factories import JobFactory

JOBS = "/api/v1/jobs/"


def job_url(job: Job | int) -> str:
    return f"/api/v1/jobs/{getattr(job, 'pk', job)}"


def cancel_url(job: Job | int) -> str:
    return f"{job_url(job)}/cancel"


def post_job(client: Client, payload: dict):
    return client.post(JOBS, payload, content_type="application/json")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [job["id"] for job in response.json()["results"]]


@pytest.fixture
def acme_key(alice, acme) -> str:
    _, secret = create_api_key(alice, acme, name="k", scope="manage")
    return secret


@pytest.fixture
def globex_key(gina, globex) -> str:
    _, secret = create_api_key(gina, globex, name="k", scope="manage")
    return secret


@pytest.fixture
def ocr_on(alice, acme, switch) -> None:
    switch(alice, acme, "ocr", enabled=True)


# --- starting a job --------------------------------------------------------------


def test_bob_starts_a_job_and_gets_202_with_it(client_for, bob, acme, ocr_on):
    response = post_job(client_for(bob), {"capability": "ocr", "kind": "recognize", "input": {"pages": 5}})

    assert response.status_code == 202, response.content
    job = Job.objects.get()
    body = response.json()
    assert body == {
        "id": job.pk,
        "capability": "ocr",
        "kind": "recognize",
        "status": "queued",
        "progress": {"done": 0, "total": 0, "percent": 0},
        "input": {"pages": 5},
        "result": None,
        "error": "",
        "error_code": "",
        "version": "1.0.0",  # the stable version: acme has not opted in to the beta
        "requested_by": "bob@acme.test",
        "queued_at": body["queued_at"],
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
    }
    assert body["queued_at"]
    assert (job.organization, job.requested_by, job.input) == (acme, bob, {"pages": 5})


def test_an_api_key_starts_a_job_for_its_organization(acme, acme_key, ocr_on):
    response = post_job(api_key_client(acme_key), {"capability": "ocr", "kind": "recognize"})

    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.organization, job.requested_by, job.input) == (acme, None, {})
    assert response.json()["requested_by"] is None
    assert response.json()["input"] == {}


@pytest.mark.parametrize("person", ["alice", "dan", "bob"])
def test_owners_admins_and_members_may_start(client_for, cast, dan, ocr_on, person):
    people = {**cast, "dan": dan}

    response = post_job(client_for(people[person]), {"capability": "ocr", "kind": "recognize"})

    assert response.status_code == 202, response.content


def test_a_switched_off_capability_answers_403_capability_disabled(
    client_for, alice, bob, acme, acme_key, switch
):
    payload = {"capability": "ocr", "kind": "recognize", "input": {"pages": 1}}
    for client in (client_for(bob), api_key_client(acme_key)):
        response = post_job(client, payload)
        assert response.status_code == 403
        assert response.json()["code"] == "capability_disabled"
        assert "Text recognition is switched off" in response.json()["detail"]

    switch(alice, acme, "ocr", enabled=True)
    switch(alice, acme, "ocr", enabled=False)
    response = post_job(client_for(bob), payload)
    assert (response.status_code, response.json()["code"]) == (403, "capability_disabled")
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"capability": "nope", "kind": "recognize"}, "capability", "No capability 'nope' is installed."),
        (
            {"capability": "ocr", "kind": "transcribe"},
            "kind",
            "Text recognition has no job kind 'transcribe'",
        ),
        (
            {"capability": "ocr", "kind": "recognize", "input": [1, 2]},
            "input",
            "The input must be a JSON object.",
        ),
        (
            {"capability": "ocr", "kind": "recognize", "input": "pages"},
            "input",
            "The input must be a JSON object.",
        ),
        ({"capability": "ocr", "kind": "recognize", "input": None}, "input", "This field may not be null."),
        ({"kind": "recognize"}, "capability", "This field is required."),
        ({"capability": "ocr"}, "kind", "This field is required."),
        ({"capability": "", "kind": "recognize"}, "capability", "This field may not be blank."),
    ],
    ids=[
        "unknown-capability",
        "unknown-kind",
        "list-input",
        "string-input",
        "null-input",
        "no-capability",
        "no-kind",
        "blank-capability",
    ],
)
def test_a_bad_request_is_400_invalid_and_starts_nothing(
    client_for, bob, acme_key, ocr_on, payload, field, message
):
    for client in (client_for(bob), api_key_client(acme_key)):
        response = post_job(client, payload)

        assert response.status_code == 400, response.content
        body = response.json()
        assert body["code"] == "invalid"
        assert body["errors"][field] == [message]
    assert not Job.objects.exists()


def test_a_body_that_is_not_json_is_400(client_for, bob, ocr_on):
    response = client_for(bob).post(JOBS, "{capability: ocr", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Job.objects.exists()


def test_carol_of_billing_gets_403_and_starts_nothing(client_for, carol, ocr_on):
    response = post_job(client_for(carol), {"capability": "ocr", "kind": "recognize"})

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "Billing users" in response.json()["detail"]
    assert not Job.objects.exists()


def test_no_credentials_no_jobs(client, acme, ocr_on):
    assert post_job(client, {"capability": "ocr", "kind": "recognize"}).status_code in (401, 403)
    assert client.get(JOBS).status_code in (401, 403)
    assert not Job.objects.exists()


def test_a_revoked_or_wrong_key_is_401(acme, acme_key, ocr_on):
    response = post_job(api_key_client(acme_key + "x"), {"capability": "ocr", "kind": "recognize"})

    assert response.status_code == 401
    assert not Job.objects.exists()


def test_globexs_key_starts_jobs_for_globex_only(gina, globex, acme, globex_key, ocr_on):
    # ocr is on for acme, not for globex.
    response = post_job(api_key_client(globex_key), {"capability": "ocr", "kind": "recognize"})

    assert (response.status_code, response.json()["code"]) == (403, "capability_disabled")
    assert not Job.objects.exists()


# --- listing and reading ---------------------------------------------------------


def test_the_list_is_paginated_newest_first(client_for, bob, acme):
    now = timezone.now()
    jobs = [JobFactory(organization=acme, queued_at=now - timedelta(minutes=minutes)) for minutes in range(7)]
    client = client_for(bob)

    first = client.get(JOBS, {"limit": 3})
    assert first.status_code == 200
    body = first.json()
    assert body["count"] == 7
    assert body["previous"] is None
    assert "limit=3" in body["next"] and "offset=3" in body["next"]
    assert ids(first) == [job.pk for job in jobs[:3]]
    assert ids(client.get(JOBS, {"limit": 3, "offset": 3})) == [job.pk for job in jobs[3:6]]
    last = client.get(JOBS, {"limit": 3, "offset": 6})
    assert ids(last) == [jobs[6].pk]
    assert last.json()["next"] is None
    assert len(ids(client.get(JOBS))) == 7  # default page of 50


def test_the_list_filters_by_capability_status_and_time(client_for, bob, acme):
    now = timezone.now()
    old = JobFactory(organization=acme, status=Job.Status.SUCCEEDED, queued_at=now - timedelta(days=3))
    failed = JobFactory(organization=acme, status=Job.Status.FAILED, queued_at=now - timedelta(days=1))
    queued = JobFactory(organization=acme, queued_at=now)
    summary = JobFactory(organization=acme, capability="summaries", queued_at=now - timedelta(hours=1))
    client = client_for(bob)

    def listed(**params) -> set[int]:
        return set(ids(client.get(JOBS, params)))

    assert listed() == {old.pk, failed.pk, queued.pk, summary.pk}
    assert listed(capability="summaries") == {summary.pk}
    assert listed(capability="ocr") == {old.pk, failed.pk, queued.pk}
    assert listed(status="queued") == {queued.pk, summary.pk}
    assert listed(status="failed", capability="ocr") == {failed.pk}
    assert listed(since=(now - timedelta(days=2)).isoformat()) == {failed.pk, queued.pk, summary.pk}
    assert listed(until=(now - timedelta(hours=2)).isoformat()) == {old.pk, failed.pk}
    window = {
        "since": (now - timedelta(days=2)).isoformat(),
        "until": (now - timedelta(minutes=30)).isoformat(),
    }
    assert listed(**window) == {failed.pk, summary.pk}
    assert listed(capability="glossary") == set()
    assert client.get(JOBS, {"status": "cancelled"}).json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_an_invalid_filter_is_400(client_for, bob):
    client = client_for(bob)

    for params in ({"status": "exploded"}, {"since": "yesterday"}):
        response = client.get(JOBS, params)
        assert response.status_code == 400, params
        assert response.json()["code"] == "invalid"


def test_carol_of_billing_reads_jobs(client_for, carol, acme):
    job = JobFactory(organization=acme)
    client = client_for(carol)

    assert ids(client.get(JOBS)) == [job.pk]
    response = client.get(job_url(job))
    assert response.status_code == 200
    assert response.json()["id"] == job.pk


def test_a_job_reads_with_its_progress_result_and_error(client_for, bob, acme):
    done = JobFactory(
        organization=acme,
        status=Job.Status.SUCCEEDED,
        progress_done=4,
        progress_total=4,
        result={"pages": 4, "text": "recognised"},
        attempts=1,
    )
    running = JobFactory(
        organization=acme, status=Job.Status.RUNNING, progress_done=1, progress_total=4, attempts=2
    )
    failed = JobFactory(
        organization=acme, status=Job.Status.FAILED, error="The scan was unreadable.", error_code="job_failed"
    )
    client = client_for(bob)

    body = client.get(job_url(done)).json()
    assert (body["status"], body["progress"], body["result"]) == (
        "succeeded",
        {"done": 4, "total": 4, "percent": 100},
        {"pages": 4, "text": "recognised"},
    )
    body = client.get(job_url(running)).json()
    assert (body["status"], body["progress"], body["attempts"]) == (
        "running",
        {"done": 1, "total": 4, "percent": 25},
        2,
    )
    body = client.get(job_url(failed)).json()
    assert (body["status"], body["error"], body["error_code"], body["result"]) == (
        "failed",
        "The scan was unreadable.",
        "job_failed",
        None,
    )


def test_an_api_key_reads_its_organizations_jobs(acme, globex, acme_key):
    mine, theirs = JobFactory(organization=acme), JobFactory(organization=globex)
    client = api_key_client(acme_key)

    assert ids(client.get(JOBS)) == [mine.pk]
    assert client.get(job_url(mine)).status_code == 200
    assert client.get(job_url(theirs)).status_code == 404


def test_gina_and_globexs_key_get_404_for_acmes_jobs(client_for, gina, acme, globex_key):
    job = JobFactory(organization=acme)

    for client in (client_for(gina), api_key_client(globex_key)):
        response = client.get(job_url(job))
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert client.post(cancel_url(job)).status_code == 404
        assert ids(client.get(JOBS)) == []
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_an_unknown_job_is_404(client_for, bob):
    assert client_for(bob).get(job_url(999_999)).status_code == 404


# --- cancelling ------------------------------------------------------------------


def test_bob_cancels_a_queued_job_then_gets_409(client_for, bob, acme):
    job = JobFactory(organization=acme, requested_by=bob)
    client = client_for(bob)

    response = client.post(cancel_url(job))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["error_code"]) == (job.pk, "cancelled", "cancelled")
    assert body["error"] == "Cancelled by bob@acme.test before it started."
    assert body["finished_at"] is not None
    entry = AuditEntry.objects.get(action="job.cancelled")
    assert (entry.actor, entry.organization, entry.target_id) == (bob, acme, str(job.pk))

    again = client.post(cancel_url(job))
    assert again.status_code == 409
    assert again.json()["code"] == "not_queued"
    assert again.json()["detail"] == "Only queued jobs can be cancelled; this one is cancelled."
    assert AuditEntry.objects.filter(action="job.cancelled").count() == 1


@pytest.mark.parametrize("status", [Job.Status.RUNNING, Job.Status.SUCCEEDED, Job.Status.FAILED])
def test_a_started_or_finished_job_cannot_be_cancelled(client_for, bob, acme, status):
    job = JobFactory(organization=acme, status=status)

    response = client_for(bob).post(cancel_url(job))

    assert response.status_code == 409
    assert response.json()["code"] == "not_queued"
    assert Job.objects.get(pk=job.pk).status == status


def test_an_api_key_cancels_as_the_admin_who_created_it(alice, acme, acme_key):
    job = JobFactory(organization=acme)

    response = api_key_client(acme_key).post(cancel_url(job))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert AuditEntry.objects.get(action="job.cancelled").actor == alice


def test_carol_of_billing_may_not_cancel(client_for, carol, acme):
    job = JobFactory(organization=acme)

    response = client_for(carol).post(cancel_url(job))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_cancel_answers_only_post(client_for, bob, acme):
    job = JobFactory(organization=acme)

    assert client_for(bob).get(cancel_url(job)).status_code == 405
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


# --- query counts ----------------------------------------------------------------


def _queries(client: Client, url: str, params: dict | None = None) -> int:
    client.get(url, params or {})  # warm the toggle snapshot
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params or {}).status_code == 200
    return len(queries)


@pytest.mark.parametrize("caller", ["bob", "key"])
def test_the_lists_query_count_does_not_grow_with_jobs(client_for, alice, bob, acme, acme_key, caller):
    client = client_for(bob) if caller == "bob" else api_key_client(acme_key)
    JobFactory(organization=acme, requested_by=bob)
    JobFactory(organization=acme, requested_by=alice)
    before = _queries(client, JOBS)
    filtered_before = _queries(client, JOBS, {"capability": "ocr", "status": "queued"})
    for number in range(40):
        JobFactory(
            organization=acme,
            requested_by=[alice, bob, None][number % 3],
            capability=["ocr", "summaries"][number % 2],
        )

    assert _queries(client, JOBS) == before
    assert _queries(client, JOBS, {"capability": "ocr", "status": "queued"}) == filtered_before
    assert len(ids(client.get(JOBS))) == 42


def test_reading_one_job_takes_a_fixed_handful_of_queries(
    client_for, bob, acme, django_assert_max_num_queries
):
    job = JobFactory(organization=acme, requested_by=bob)
    client = client_for(bob)
    client.get(job_url(job))

    with django_assert_max_num_queries(5):  # session, user, membership, the job (with its requester)
        assert client.get(job_url(job)).status_code == 200


def test_starting_a_job_takes_a_fixed_handful_of_queries(
    client_for, bob, ocr_on, django_assert_max_num_queries
):
    client = client_for(bob)
    post_job(client, {"capability": "ocr", "kind": "recognize"})

    with django_assert_max_num_queries(8):
        assert post_job(client, {"capability": "ocr", "kind": "recognize"}).status_code == 202


# --- Idempotency-Key ---------------------------------------------------------------


def keyed_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def test_a_job_posted_twice_with_one_key_runs_and_bills_once(
    acme, acme_key, globex_key, ocr_on, switch, gina, globex
):
    client = keyed_client(acme_key)
    payload = {"capability": "ocr", "kind": "recognize", "input": {"pages": 4}}
    first = client.post(JOBS, payload, format="json", HTTP_IDEMPOTENCY_KEY="job-1")
    assert first.status_code == 202, first.content
    assert _run(first.json()["id"]) == Job.Status.SUCCEEDED
    # The same JSON with its keys in another order is the same request.
    again = client.post(
        JOBS,
        '{"input": {"pages": 4}, "kind": "recognize", "capability": "ocr"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="job-1",
    )
    assert (again.status_code, again["Idempotent-Replayed"]) == (202, "true")
    assert again.content == first.content
    assert Job.objects.filter(organization=acme).count() == 1
    assert (
        sum(UsageEvent.objects.filter(organization=acme, meter="pages").values_list("quantity", flat=True))
        == 4
    )

    reused = client.post(
        JOBS, {**payload, "input": {"pages": 5}}, format="json", HTTP_IDEMPOTENCY_KEY="job-1"
    )
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")

    switch(gina, globex, "ocr", enabled=True)
    theirs = keyed_client(globex_key).post(JOBS, payload, format="json", HTTP_IDEMPOTENCY_KEY="job-1")
    assert theirs.status_code == 202 and "Idempotent-Replayed" not in theirs
    assert Job.objects.get(pk=theirs.json()["id"]).organization == globex
    assert Job.objects.count() == 2


def test_a_refused_job_keeps_no_answer_and_the_key_works_once_corrected(acme, acme_key, alice, switch):
    client = keyed_client(acme_key)
    payload = {"capability": "ocr", "kind": "recognize"}
    off = client.post(JOBS, payload, format="json", HTTP_IDEMPOTENCY_KEY="job-2")
    assert (off.status_code, off.json()["code"]) == (403, "capability_disabled")
    switch(alice, acme, "ocr", enabled=True)
    on = client.post(JOBS, payload, format="json", HTTP_IDEMPOTENCY_KEY="job-2")
    assert on.status_code == 202 and "Idempotent-Replayed" not in on


def test_cancel_with_a_key_replays_its_answer(acme, acme_key):
    job = JobFactory(organization=acme)
    client = keyed_client(acme_key)
    first = client.post(cancel_url(job), HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert first.status_code == 200 and first.json()["status"] == "cancelled"
    again = client.post(cancel_url(job), HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (200, "true", first.content)
    # Without the key, a second cancel is refused as before.
    assert client.post(cancel_url(job)).status_code == 409


# --- each job kind's declared input ----------------------------------------------


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"capability": "ocr", "kind": "recognize", "input": {"pages": "many"}},
            {"pages": ["Enter a whole number."]},
        ),
        (
            {"capability": "ocr", "kind": "recognize", "input": {"pages": 0}},
            {"pages": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"capability": "ocr", "kind": "recognize", "input": {"colour": "red"}},
            {"colour": ["Unknown field; Recognise pages takes pages, hold_until_exists, fail."]},
        ),
        (
            {"capability": "ocr", "kind": "noop", "input": {"pages": 1}},
            {"pages": ["This job takes no input."]},
        ),
    ],
    ids=["not-a-number", "zero", "unknown-field", "no-input-taken"],
)
def test_a_job_input_is_checked_against_its_kind_and_each_field_named(
    client_for, bob, ocr_on, payload, errors
):
    response = post_job(client_for(bob), payload)

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"input": errors}
    assert not Job.objects.exists()


def test_a_report_build_without_its_report_is_a_400_not_a_failed_job(
    client_for, alice, acme, gina, globex, switch
):
    """Issue 13: `{}` was accepted and the job failed with "This report's upload
    set was deleted before the build started"."""
    from capabilities.reports.models import Report, UploadSet

    switch(alice, acme, "reports", enabled=True)
    theirs = Report.objects.create(
        organization=globex, upload_set=UploadSet.objects.create(organization=globex, name="Theirs")
    )
    client = client_for(alice)

    missing = post_job(client, {"capability": "reports", "kind": "build", "input": {}})
    assert missing.status_code == 400
    assert missing.json()["errors"] == {"input": {"report_id": ["This field is required."]}}
    foreign = post_job(client, {"capability": "reports", "kind": "build", "input": {"report_id": theirs.pk}})
    assert foreign.status_code == 400
    assert foreign.json()["errors"] == {
        "input": {"report_id": ["Your organization has no report with this id."]}
    }
    assert not Job.objects.exists()


def test_an_extraction_names_a_document_of_the_organization(client_for, alice, acme, switch):
    switch(alice, acme, "documents", enabled=True)

    response = post_job(
        client_for(alice), {"capability": "documents", "kind": "extract", "input": {"document_id": 99}}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "input": {"document_id": ["Your organization has no document with this id."]}
    }
