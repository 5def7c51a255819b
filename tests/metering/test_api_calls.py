"""API calls made with an organization API key count as the `api_calls` meter
of the capability they used, once the response is out: a Redis hash per
organization, capability and hour, moved to the ledger by `api_calls.flush()`.
Browser (session) calls, refused calls and failed calls are not counted; a
flush that stopped half-way is finished by the next one, exactly once.

Runs on the Redis of settings.REDIS_URL; every key of the counter is removed
before and after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from django.db.models import Sum
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone

from capabilities import actions
from capabilities.models import Job
from metering import api_calls
from metering.middleware import ApiCallMeteringMiddleware
from metering.models import EventKind, UsageEvent, UsageRollup
from portal import actions as portal_actions
from portal.models import Organization, User

SUMMARY_COUNT = "/api/v1/c/summaries/count/"
JOBS = "/api/v1/jobs/"
CRASHED = f"{api_calls.FLUSHING}test-crash"


def _clear_counter() -> None:
    client = api_calls._redis()
    for key in client.scan_iter("metering:api_calls:*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def redis() -> Iterator:
    _clear_counter()
    yield api_calls._redis()
    _clear_counter()


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
    _, secret = portal_actions.create_api_key(actor, organization, name="k")
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


def pending(redis) -> dict[str, int]:
    return {field.decode(): int(value) for field, value in redis.hgetall(api_calls.PENDING).items()}


def hour_field(organization: Organization, capability: str) -> str:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    return f"{organization.pk}|{capability}|{int(hour.timestamp())}"


# --- what is counted -------------------------------------------------------------


def test_key_calls_count_for_their_capability_after_the_flush(acme, acme_client, summaries_on, redis):
    start = timezone.now()
    for _ in range(3):
        assert acme_client.get(SUMMARY_COUNT).status_code == 200
    started = [start_job(acme_client) for _ in range(2)]
    assert [response.status_code for response in started] == [202, 202]
    assert acme_client.get(f"{JOBS}{started[0].json()['id']}").status_code == 200  # reading a job: ocr
    assert acme_client.get(JOBS).status_code == 200  # the list belongs to no capability

    # Counted in Redis after each response; nothing in the ledger before a flush.
    assert sum(pending(redis).values()) == 6
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
    assert pending(redis) == {}
    assert list(redis.scan_iter(f"{api_calls.FLUSHING}*")) == []


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


def test_browser_calls_are_not_counted(client_for, bob, acme, summaries_on, redis):
    browser = client_for(bob)

    assert browser.get(SUMMARY_COUNT).status_code == 200
    response = start_job(browser)
    assert response.status_code == 202
    assert browser.get(f"{JOBS}{response.json()['id']}").status_code == 200
    assert browser.get("/capabilities/ocr/").status_code == 200

    assert pending(redis) == {}
    assert api_calls.flush() == 0
    assert api_call_totals() == {}
    assert Job.objects.filter(organization=acme).count() == 1


def test_refused_and_failed_calls_are_not_counted(alice, acme, globex, gina, acme_client, switch, redis):
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

    assert pending(redis) == {}
    assert api_calls.flush() == 0
    assert api_call_totals() == {}
    assert not Job.objects.filter(organization=acme, status="queued").exists()


def test_a_call_is_counted_once_its_response_is_closed(acme, redis):
    """The count is a closer of the response: the server runs it after the
    response went out, never while the caller waits."""
    request = RequestFactory().get(SUMMARY_COUNT)
    request.api_key_organization_id = acme.pk
    request.metered_capability = "summaries"
    response = ApiCallMeteringMiddleware(lambda request: HttpResponse("ok"))(request)

    assert pending(redis) == {}
    response.close()

    assert list(pending(redis).values()) == [1]
    assert next(iter(pending(redis))).startswith(f"{acme.pk}|summaries|")


@pytest.mark.parametrize("status", [400, 403, 404, 409, 500])
def test_an_error_response_is_never_counted(acme, redis, status):
    request = RequestFactory().get(SUMMARY_COUNT)
    request.api_key_organization_id = acme.pk
    request.metered_capability = "summaries"

    ApiCallMeteringMiddleware(lambda request: HttpResponse(status=status))(request).close()

    assert pending(redis) == {}


# --- flushing exactly once -------------------------------------------------------


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


def test_a_flush_hash_left_by_a_crash_is_recorded_exactly_once(acme, globex, redis):
    """A flush renamed the pending hash and stopped. First the crash came before
    its ledger write, then (the leftover restored) after it: the calls count once."""
    redis.hincrby(api_calls.PENDING, hour_field(acme, "ocr"), 5)
    redis.hincrby(api_calls.PENDING, hour_field(acme, "summaries"), 2)
    redis.hincrby(api_calls.PENDING, hour_field(globex, "ocr"), 1)
    redis.rename(api_calls.PENDING, CRASHED)
    leftover = redis.hgetall(CRASHED)
    redis.hincrby(api_calls.PENDING, hour_field(acme, "ocr"), 4)  # counted since the crash

    assert api_calls.flush() == 12  # the leftover and the new pending hash

    assert api_call_totals() == {(acme.pk, "ocr"): 9, (acme.pk, "summaries"): 2, (globex.pk, "ocr"): 1}
    assert redis.exists(CRASHED) == 0
    leftover_keys = set(
        UsageEvent.objects.filter(idempotency_key__startswith="api:test-crash:").values_list(
            "idempotency_key", flat=True
        )
    )
    assert len(leftover_keys) == 3

    # The crash came after the ledger write, before the delete: the hash is back.
    for _ in range(2):
        redis.hset(CRASHED, mapping=leftover)
        assert api_calls.flush() == 0
        assert redis.exists(CRASHED) == 0

    assert api_call_totals() == {(acme.pk, "ocr"): 9, (acme.pk, "summaries"): 2, (globex.pk, "ocr"): 1}
    assert rollup_totals() == {
        (acme.pk, "ocr"): (9, 2),
        (acme.pk, "summaries"): (2, 1),
        (globex.pk, "ocr"): (1, 1),
    }


def test_a_leftover_is_flushed_with_the_hour_it_was_counted_in(acme, redis):
    hour = datetime(2026, 3, 2, 9, tzinfo=UTC)
    redis.hset(CRASHED, f"{acme.pk}|ocr|{int(hour.timestamp())}", 7)

    assert api_calls.flush() == 7

    event = UsageEvent.objects.get(meter=api_calls.METER)
    assert (event.organization, event.capability, event.quantity, event.occurred_at) == (acme, "ocr", 7, hour)
    assert event.idempotency_key == f"api:test-crash:{acme.pk}:ocr:{int(hour.timestamp())}"
    rollup = UsageRollup.objects.get(meter=api_calls.METER)
    assert (rollup.hour, rollup.quantity, rollup.events) == (hour, 7, 1)


def test_an_empty_counter_flushes_nothing(db, redis):
    assert api_calls.flush() == 0
    assert api_calls.flush() == 0
    assert api_call_totals() == {}
    assert list(redis.scan_iter("metering:api_calls:*")) == []


@pytest.mark.django_db(transaction=True)
def test_a_poisoned_flush_is_set_aside_and_later_flushes_go_on(acme, redis):
    # A field nobody can parse, left by a flush that died.
    redis.hset("metering:api_calls:flushing:poisoned", "not|a-valid|field|at-all", 3)
    hour = int(datetime(2026, 1, 5, 9, tzinfo=UTC).timestamp())
    redis.hincrby(api_calls.PENDING, f"{acme.pk}|ocr|{hour}", 2)

    assert api_calls.flush() == 2
    assert api_calls.set_aside() == ["metering:api_calls:failed:poisoned"]
    assert UsageEvent.objects.get(organization=acme, meter="api_calls").quantity == 2
    assert api_calls.flush() == 0  # and it stays aside, blocking nothing


def test_a_replayed_idempotent_call_is_not_counted_again(acme, acme_client, summaries_on, redis):
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
