"""API calls made with an organization API key count as the `api_calls` meter
of the capability they used, once the response is out: counted in the web
process's memory, written to PostgreSQL as numbered batches (every second by a
thread in production; here by `api_calls.write_counts()`), and moved to the
ledger by `api_calls.flush()`. Browser (session) calls, refused calls and
failed calls are not counted. A batch whose commit was lost is retried without
counting twice; a move that stopped half-way is finished by the next one.

Each test starts with no counts in memory. Real web processes (the thread,
SIGKILL, a Redis restart) are in test_api_calls_process.py. The module is
long because each failure of the write path (lost commit, failed write, half
move, fork) is its own scenario on the same counter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection
from django.db.models import F, Sum
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.request import Request

from capabilities import actions
from capabilities.models import Job
from metering import api_calls
from metering.middleware import ApiCallMeteringMiddleware
from metering.models import ApiCallCount, EventKind, UsageEvent, UsageRollup
from portal.actions.api_keys import create_api_key
from portal.api.authentication import ApiKeyClient
from portal.models import Organization, User

SUMMARY_COUNT = "/api/v1/c/summaries/count/"
JOBS = "/api/v1/jobs/"


@pytest.fixture(autouse=True)
def counts() -> Iterator[api_calls._Counts]:
    """This process's counts, empty."""
    api_calls.forget_counts()
    yield api_calls._process_counts()


@pytest.fixture
def switch(django_capture_on_commit_callbacks) -> Callable[..., None]:
    """Switch a capability as the organization does, committed (every process
    sees the change: the toggle version is bumped on commit)."""

    def run(actor: User, organization: Organization, key: str, *, enabled: bool = True, **options) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            actions.set_capability_enabled(actor, organization, key, enabled=enabled, **options)

    return run


@pytest.fixture
def summaries_on(alice, acme, switch) -> None:
    switch(alice, acme, "summaries", enabled=True, include_related=True)  # with ocr


def key_client(actor: User, organization: Organization) -> Client:
    _, secret = create_api_key(actor, organization, name="k", scope="manage")
    return Client(headers={"Authorization": f"Api-Key {secret}"})


@pytest.fixture
def acme_client(alice, acme) -> Client:
    return key_client(alice, acme)


def start_job(client: Client, **payload):
    payload = {"capability": "ocr", "kind": "recognize", "input": {"pages": 1}, **payload}
    return client.post(JOBS, payload, content_type="application/json")


def api_call_totals() -> dict[tuple[int, str], int]:
    """(organization id, capability) -> API calls in the ledger."""
    rows = (
        UsageEvent.objects.filter(meter=api_calls.METER)
        .values_list("organization_id", "capability")
        .annotate(total=Sum("quantity"))
    )
    return {(org_id, capability): total for org_id, capability, total in rows}


def rollup_totals() -> dict[tuple[int, str], tuple[int, int]]:
    """(organization id, capability) -> (quantity, events) in the API-call rollups."""
    rows = (
        UsageRollup.objects.filter(meter=api_calls.METER)
        .values_list("organization_id", "capability")
        .annotate(quantity=Sum("quantity"), events=Sum("events"))
    )
    return {(org_id, capability): (quantity, events) for org_id, capability, quantity, events in rows}


def pending(counts: api_calls._Counts) -> dict[tuple[int, str], int]:
    """(organization id, capability) -> calls counted and not yet in the ledger."""
    totals: dict[tuple[int, str], int] = {}
    for (org_id, capability, _hour), calls in counts.counting.items():
        totals[(org_id, capability)] = totals.get((org_id, capability), 0) + calls
    for row in ApiCallCount.objects.all():
        key = (row.organization_id, row.capability)
        totals[key] = totals.get(key, 0) + row.calls - row.moved
    return {key: value for key, value in totals.items() if value}


def this_hour() -> int:
    return int(timezone.now().replace(minute=0, second=0, microsecond=0).timestamp())


# --- what is counted -------------------------------------------------------------


def test_key_calls_count_for_their_capability_after_the_flush(acme, acme_client, summaries_on, counts):
    start = timezone.now()
    for _ in range(3):
        assert acme_client.get(SUMMARY_COUNT).status_code == 200
    started = [start_job(acme_client) for _ in range(2)]
    assert [response.status_code for response in started] == [202, 202]
    assert acme_client.get(f"{JOBS}{started[0].json()['id']}").status_code == 200  # reading a job: ocr
    assert acme_client.get(JOBS).status_code == 200  # the list belongs to no capability

    # Counted in memory after each response; nothing in the ledger before a flush.
    assert sum(counts.counting.values()) == 6
    assert not UsageEvent.objects.filter(meter=api_calls.METER).exists()

    assert api_calls.flush() == 6

    assert api_call_totals() == {(acme.pk, "summaries"): 3, (acme.pk, "ocr"): 3}
    events = UsageEvent.objects.filter(meter=api_calls.METER)
    for event in events:
        assert event.kind == EventKind.API_CALLS
        assert event.job_id is None
        assert event.idempotency_key.startswith("api:")
        assert (event.occurred_at.minute, event.occurred_at.second, event.occurred_at.microsecond) == (
            0,
            0,
            0,
        )
        assert start.replace(minute=0, second=0, microsecond=0) <= event.occurred_at <= timezone.now()
    # One event per organization, capability and hour; the rollups hold the same sums.
    assert rollup_totals() == {
        (acme.pk, capability): (total, events.filter(capability=capability).count())
        for capability, total in (("summaries", 3), ("ocr", 3))
    }
    assert {row.hour for row in UsageRollup.objects.filter(meter=api_calls.METER)} == {
        event.occurred_at for event in events
    }
    assert pending(counts) == {}


def test_each_organizations_key_counts_for_its_own_organization(
    alice, gina, acme, globex, acme_client, summaries_on, switch
):
    switch(gina, globex, "ocr", enabled=True)
    globex_client = key_client(gina, globex)

    assert start_job(acme_client).status_code == 202
    for _ in range(2):
        assert start_job(globex_client).status_code == 202
    assert globex_client.get(SUMMARY_COUNT).status_code == 403  # summaries is off for globex

    assert api_calls.flush() == 3
    assert api_call_totals() == {(acme.pk, "ocr"): 1, (globex.pk, "ocr"): 2}


def test_cancelling_with_a_key_counts_for_the_jobs_capability(acme, acme_client, summaries_on):
    job_id = start_job(acme_client).json()["id"]

    assert acme_client.post(f"{JOBS}{job_id}/cancel").status_code == 200
    assert acme_client.post(f"{JOBS}{job_id}/cancel").status_code == 409  # refused: not counted

    api_calls.flush()
    assert api_call_totals() == {(acme.pk, "ocr"): 2}  # the start and the cancel


def test_browser_calls_are_not_counted(client_for, bob, acme, summaries_on, counts):
    browser = client_for(bob)

    assert browser.get(SUMMARY_COUNT).status_code == 200
    response = start_job(browser)
    assert response.status_code == 202
    assert browser.get(f"{JOBS}{response.json()['id']}").status_code == 200
    assert browser.get("/capabilities/ocr/").status_code == 200

    assert pending(counts) == {}
    assert api_calls.flush() == 0
    assert api_call_totals() == {}
    assert Job.objects.filter(organization=acme).count() == 1


def test_refused_and_failed_calls_are_not_counted(alice, acme, globex, gina, acme_client, switch, counts):
    # Everything off: 403 capability_disabled.
    assert acme_client.get(SUMMARY_COUNT).json()["code"] == "capability_disabled"
    assert start_job(acme_client).json()["code"] == "capability_disabled"
    switch(alice, acme, "ocr", enabled=True)
    # Bad requests: 400.
    assert start_job(acme_client, kind="transcribe").status_code == 400
    assert start_job(acme_client, input=[1, 2]).status_code == 400
    assert start_job(acme_client, capability="nope").status_code == 400
    # Another organization's job: 404.
    theirs = Job.objects.create(organization=globex, capability="ocr", kind="recognize")
    assert acme_client.get(f"{JOBS}{theirs.pk}").status_code == 404
    # A running job cannot be cancelled: 409.
    running = Job.objects.create(organization=acme, capability="ocr", kind="recognize", status="running")
    assert acme_client.post(f"{JOBS}{running.pk}/cancel").status_code == 409
    # A wrong key: 401.
    wrong = Client(headers={"Authorization": "Api-Key nope.nope"})
    assert start_job(wrong).status_code == 401

    assert pending(counts) == {}
    assert api_calls.flush() == 0
    assert api_call_totals() == {}
    assert not Job.objects.filter(organization=acme, status="queued").exists()


def key_call(actor: User, organization: Organization, capability: str) -> HttpRequest:
    """A request made with `organization`'s API key, attributed to `capability`
    as the capability API does."""
    api_key, _ = create_api_key(actor, organization, name="k", scope="manage")
    request = Request(RequestFactory().get(SUMMARY_COUNT))
    request.user = ApiKeyClient(api_key)
    api_calls.attribute(request, capability)
    return request._request


def test_a_call_is_counted_once_its_response_is_closed(alice, acme, counts):
    """The count is a closer of the response: the server runs it after the
    response went out, never while the caller waits."""
    request = key_call(alice, acme, "summaries")
    response = ApiCallMeteringMiddleware(lambda request: HttpResponse("ok"))(request)

    assert counts.counting == {}
    response.close()

    assert counts.counting == {(acme.pk, "summaries", this_hour()): 1}


@pytest.mark.parametrize("status", [400, 403, 404, 409, 500])
def test_an_error_response_is_never_counted(alice, acme, counts, status):
    request = key_call(alice, acme, "summaries")

    ApiCallMeteringMiddleware(lambda request: HttpResponse(status=status))(request).close()

    assert counts.counting == {}


# --- written once, moved once ------------------------------------------------------


def fail_statements_containing(text: str) -> Callable:
    """An execute wrapper (Django's hook around every query) that fails the
    statements containing `text` as a lost connection would."""

    def wrapper(execute, sql, params, many, context):
        if text in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


def count(counts: api_calls._Counts, organization: Organization, capability: str, calls: int) -> None:
    for _ in range(calls):
        api_calls.count_call(organization.pk, capability)


def test_flushing_twice_adds_nothing(acme, acme_client, summaries_on):
    for _ in range(4):
        acme_client.get(SUMMARY_COUNT)

    assert api_calls.flush() == 4
    events_after_first = list(UsageEvent.objects.filter(meter=api_calls.METER).values_list("id", flat=True))
    rollups_after_first = rollup_totals()

    assert api_calls.flush() == 0
    assert api_calls.flush() == 0
    assert list(UsageEvent.objects.filter(meter=api_calls.METER).values_list("id", flat=True)) == (
        events_after_first
    )
    assert rollup_totals() == rollups_after_first == {(acme.pk, "summaries"): (4, len(events_after_first))}


def test_calls_after_a_flush_go_to_the_next_one(acme, acme_client, summaries_on):
    acme_client.get(SUMMARY_COUNT)
    assert api_calls.flush() == 1
    for _ in range(2):
        acme_client.get(SUMMARY_COUNT)
    assert api_calls.flush() == 2

    assert api_call_totals() == {(acme.pk, "summaries"): 3}
    assert rollup_totals()[(acme.pk, "summaries")][0] == 3


def test_written_calls_wait_in_postgresql_for_the_move(acme, globex, counts):
    count(counts, acme, "ocr", 5)
    count(counts, globex, "ocr", 1)

    assert api_calls.write_counts() == 6
    assert counts.counting == {} and counts.unconfirmed == []
    rows = {
        (row.organization_id, row.capability): (row.calls, row.moved) for row in ApiCallCount.objects.all()
    }
    assert rows == {(acme.pk, "ocr"): (5, 0), (globex.pk, "ocr"): (1, 0)}
    assert api_call_totals() == {}

    count(counts, acme, "ocr", 2)
    assert api_calls.flush() == 8  # its own counts first, then the move

    assert api_call_totals() == {(acme.pk, "ocr"): 7, (globex.pk, "ocr"): 1}
    assert all(row.moved == row.calls for row in ApiCallCount.objects.all())
    event = UsageEvent.objects.get(organization=acme, meter=api_calls.METER)
    assert event.idempotency_key == f"api:{counts.process}:{acme.pk}:ocr:{this_hour()}:7"


def test_a_batch_retried_after_its_commit_was_lost_counts_once(acme, counts):
    """The commit went through but the process never heard back (the
    connection died during COMMIT): it retries the same batch, which finds
    its number already applied."""
    count(counts, acme, "ocr", 3)
    api_calls.write_counts()
    counts.unconfirmed.append(api_calls.Batch(counts.last_batch, {(acme.pk, "ocr", this_hour()): 3}))
    count(counts, acme, "ocr", 2)

    api_calls.write_counts()

    assert ApiCallCount.objects.get().calls == 5
    assert api_calls.flush() == 5
    assert api_call_totals() == {(acme.pk, "ocr"): 5}


def test_a_write_that_fails_keeps_its_calls_and_the_next_write_adds_them_in_order(acme, globex, counts):
    count(counts, acme, "ocr", 3)
    failing = fail_statements_containing("INSERT INTO metering_apicallcount")
    with connection.execute_wrapper(failing), pytest.raises(OperationalError):
        api_calls.write_counts()
    assert [batch.number for batch in counts.unconfirmed] == [1]
    assert not ApiCallCount.objects.exists()

    count(counts, acme, "ocr", 2)
    count(counts, globex, "summaries", 4)
    assert api_calls.write_counts() == 9  # batch 1, then batch 2

    assert counts.unconfirmed == []
    assert {
        (row.organization_id, row.capability): (row.calls, row.batch) for row in ApiCallCount.objects.all()
    } == {
        (acme.pk, "ocr"): (5, 2),
        (globex.pk, "summaries"): (4, 2),
    }
    assert api_calls.flush() == 9


def test_a_move_that_fails_leaves_the_calls_for_the_next_one(acme, counts):
    count(counts, acme, "ocr", 4)
    api_calls.write_counts()

    failing = fail_statements_containing("INSERT INTO metering_usageevent")
    with connection.execute_wrapper(failing), pytest.raises(OperationalError):
        api_calls.flush()
    assert ApiCallCount.objects.get().moved == 0
    assert api_call_totals() == {}

    assert api_calls.flush() == 4
    assert api_calls.flush() == 0
    assert api_call_totals() == {(acme.pk, "ocr"): 4}
    assert rollup_totals() == {(acme.pk, "ocr"): (4, 1)}


def test_calls_keep_the_hour_they_were_counted_in(acme, counts):
    hour = datetime(2026, 3, 2, 9, tzinfo=UTC)
    counts.counting[(acme.pk, "ocr", int(hour.timestamp()))] = 7

    assert api_calls.flush() == 7

    event = UsageEvent.objects.get(meter=api_calls.METER)
    assert (event.organization, event.capability, event.quantity, event.occurred_at) == (acme, "ocr", 7, hour)
    rollup = UsageRollup.objects.get(meter=api_calls.METER)
    assert (rollup.hour, rollup.quantity, rollup.events) == (hour, 7, 1)


def test_calls_of_an_organization_that_no_longer_exists_are_dropped(acme, counts):
    counts.counting[(987_654_321, "ocr", this_hour())] = 3
    count(counts, acme, "ocr", 1)

    assert api_calls.flush() == 1
    assert api_call_totals() == {(acme.pk, "ocr"): 1}
    assert not ApiCallCount.objects.filter(calls__gt=F("moved")).exists()  # not retried forever


def test_rows_long_since_moved_are_deleted(acme, counts):
    old = timezone.now() - api_calls.KEEP_MOVED - timedelta(hours=1)
    ApiCallCount.objects.create(
        process="gone", organization_id=acme.pk, capability="ocr", hour=old, calls=4, moved=4
    )
    ApiCallCount.objects.create(
        process="gone", organization_id=acme.pk, capability="summaries", hour=old, calls=2, moved=0
    )
    recent = ApiCallCount.objects.create(
        process="here", organization_id=acme.pk, capability="ocr", hour=timezone.now(), calls=1, moved=1
    )

    assert api_calls.flush() == 2  # the old row's calls are moved first, then it goes too

    assert list(ApiCallCount.objects.values_list("pk", flat=True)) == [recent.pk]
    assert api_call_totals() == {(acme.pk, "summaries"): 2}


def test_a_forked_process_starts_with_none_of_its_parents_counts(acme, counts):
    count(counts, acme, "ocr", 2)
    counts.pid = -1  # as a child sees its parent's counts after fork()

    assert api_calls._process_counts() is not counts
    assert api_calls.write_counts() == 0


def test_an_empty_counter_flushes_nothing(db):
    assert api_calls.flush() == 0
    assert api_calls.flush() == 0
    assert api_call_totals() == {}
    assert not ApiCallCount.objects.exists()


# --- the health page -----------------------------------------------------------------


def test_ivan_sees_the_calls_waiting_and_a_move_that_stopped(client_for, ivan, acme, counts):
    from django.core.cache import cache

    from tests.portal.health_page import health_section, item

    cache.delete(api_calls.LAST_MOVE)
    count(counts, acme, "ocr", 3)
    api_calls.write_counts()

    section = health_section(client_for(ivan), "Usage: API calls")
    assert '<span class="badge badge-ok">3</span>' in item(section, "Waiting for the ledger")
    assert '<span class="badge badge-bad">Never</span>' in item(section, "Last move to the ledger")

    api_calls.flush()
    section = health_section(client_for(ivan), "Usage: API calls")
    assert '<span class="badge badge-ok">0</span>' in item(section, "Waiting for the ledger")
    assert "badge-bad" not in section
    moved = item(section, "Last move to the ledger")
    assert '<span class="badge badge-ok">Under a minute ago</span>' in moved

    count(counts, acme, "ocr", 2)
    api_calls.write_counts()
    cache.set(api_calls.LAST_MOVE, timezone.now() - timedelta(minutes=5), timeout=None)
    section = health_section(client_for(ivan), "Usage: API calls")
    assert '<span class="badge badge-bad">5 minutes ago</span>' in item(section, "Last move to the ledger")


def test_a_replayed_idempotent_call_is_not_counted_again(acme, acme_client, summaries_on):
    for _ in range(3):
        response = acme_client.post(
            JOBS,
            {"capability": "ocr", "kind": "recognize", "input": {"pages": 1}},
            content_type="application/json",
            headers={"Idempotency-Key": "once"},
        )
        assert response.status_code == 202
    assert response["Idempotent-Replayed"] == "true"
    assert Job.objects.filter(organization=acme).count() == 1
    assert api_calls.flush() == 1
    assert api_call_totals() == {(acme.pk, "ocr"): 1}
