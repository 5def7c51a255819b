"""Usage reported as CloudEvents (`POST /api/v1/events`, issue 18), sent the
way a service sends it: events built and serialized by the `cloudevents` SDK
(structured mode), with an organization API key."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from django.db import connection
from django.test import Client
from django.utils import timezone

from capabilities.usage_events import idempotency_key
from metering import actions as metering_actions
from metering.models import UsageEvent, UsageRollup
from metering.moments import hour_of
from portal.actions.api_keys import create_api_key
from tests.capabilities.state import api_key_client

URL = "/api/v1/events"
SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SOURCE = "https://ocr.acme-services.test/workers/1"


def usage_event(
    type_: str = "ocr.pages", quantity: Any = 3, *, source: str = SOURCE, **attributes: Any
) -> CloudEvent:
    """A usage event as a service builds it with the SDK (it fills id and time)."""
    data = attributes.pop("data", {"quantity": quantity})
    return CloudEvent({"type": type_, "source": source, **attributes}, data)


def send(client: Client, event: CloudEvent) -> Any:
    message = to_structured(event, JSONFormat())
    return client.post(URL, data=message.body, content_type=message.headers["content-type"])


def send_batch(client: Client, events: list[CloudEvent | dict[str, Any]]) -> Any:
    """A batch in the JSON batch format: an array of structured events (the SDK
    writes each event; it has no batch helper)."""
    parts = [
        JSONFormat().write(event) if isinstance(event, CloudEvent) else json.dumps(event).encode()
        for event in events
    ]
    return client.post(URL, data=b"[" + b",".join(parts) + b"]", content_type=BATCH)


def recorded(organization, meter: str = "pages") -> int:
    return sum(
        UsageEvent.objects.filter(organization=organization, meter=meter).values_list("quantity", flat=True)
    )


@pytest.fixture
def services(alice, acme, switch) -> Client:
    """acme's services, reporting with a `use` key; acme has ocr on."""
    switch(alice, acme, "ocr")
    _key, secret = create_api_key(alice, acme, name="ocr service", scope="use")
    return api_key_client(secret)


# --- one event ---------------------------------------------------------------------------


def test_one_event_is_recorded_once(services, acme):
    event = usage_event(quantity=12, subject="acme")
    first = send(services, event)
    assert first.status_code == 202, first.json()
    assert first.json() == {"id": event.get_id(), "source": SOURCE, "status": "accepted"}
    again = send(services, event)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert recorded(acme) == 12
    row = UsageEvent.objects.get(organization=acme)
    assert row.idempotency_key == idempotency_key(SOURCE, event.get_id())
    assert row.occurred_at == event.get_time()
    assert row.properties == {"cloudevent": {"source": SOURCE, "id": event.get_id()}}


def test_without_subject_or_time_it_is_the_keys_organization_now(services, acme):
    body = json.dumps(
        {"specversion": "1.0", "id": "e-1", "source": SOURCE, "type": "ocr.pages", "data": {"quantity": 2}}
    )
    before = timezone.now()
    answer = services.post(URL, data=body, content_type=SINGLE)
    assert answer.status_code == 202, answer.json()
    row = UsageEvent.objects.get(organization=acme)
    assert row.quantity == 2
    assert row.occurred_at >= before


@pytest.mark.parametrize(
    ("event", "status", "reason"),
    [
        (lambda: usage_event("ocr.lines"), 400, "unknown_meter"),
        (lambda: usage_event("translation.words"), 400, "unknown_meter"),
        (lambda: usage_event("ocr.api_calls"), 400, "unknown_meter"),
        (lambda: usage_event(quantity=0), 400, "bad_quantity"),
        (lambda: usage_event(quantity=-5), 400, "bad_quantity"),
        (lambda: usage_event(quantity=2.5), 400, "bad_quantity"),
        (lambda: usage_event(quantity="7"), 400, "bad_quantity"),
        (lambda: usage_event(data={"pages": 3}), 400, "bad_quantity"),
        (lambda: usage_event(time=timezone.now() - timedelta(days=34, minutes=5)), 400, "outside_window"),
        (lambda: usage_event(time=timezone.now() + timedelta(minutes=30)), 400, "outside_window"),
        (lambda: usage_event(subject="globex"), 403, "foreign_organization"),
        (lambda: usage_event("summaries.summaries"), 403, "capability_disabled"),
    ],
    ids=[
        "unknown meter",
        "unknown capability",
        "platform meter",
        "zero",
        "negative",
        "fraction",
        "string",
        "no quantity",
        "over 34 days old",
        "30 minutes ahead",
        "another organization",
        "switched off",
    ],
)
def test_a_refused_event_says_why_and_records_nothing(services, acme, globex, event, status, reason):
    answer = send(services, event())
    assert answer.status_code == status, answer.json()
    body = answer.json()
    assert body["status"] == "refused"
    assert body["reason"] == body["code"] == reason
    assert body["detail"]
    assert not UsageEvent.objects.exists()


def test_a_reached_stop_budget_refuses_with_402(services, alice, acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        metering_actions.save_budget(alice, acme, capability="ocr", amount=Decimal("0.00"))
    answer = send(services, usage_event())
    assert answer.status_code == 402
    assert answer.json()["reason"] == "budget_exhausted"
    assert "budget" in answer.json()["detail"]
    assert not UsageEvent.objects.exists()


def test_an_event_recorded_before_answers_duplicate_even_when_refused_now(services, alice, acme, switch):
    event = usage_event(quantity=4)
    assert send(services, event).status_code == 202
    switch(alice, acme, "ocr", enabled=False)
    assert send(services, event).json()["status"] == "duplicate"
    assert send(services, usage_event(quantity=4)).json()["reason"] == "capability_disabled"
    assert recorded(acme) == 4


# --- batches -----------------------------------------------------------------------------


def test_a_batch_answers_each_event_and_commits_the_accepted_ones(
    services, alice, acme, django_capture_on_commit_callbacks
):
    now = timezone.now()
    events: list[CloudEvent | dict[str, Any]] = [
        usage_event(quantity=5, id="a"),
        usage_event("ocr.lines", id="b"),
        usage_event("summaries.summaries", id="c"),
        usage_event(quantity=-1, id="d"),
        usage_event(time=now - timedelta(days=40), id="e"),
        usage_event(subject="globex", id="f"),
        {"specversion": "1.0", "source": SOURCE, "type": "ocr.pages", "data": {"quantity": 1}},
        {"specversion": "0.3", "id": "h", "source": SOURCE, "type": "ocr.pages", "data": {"quantity": 1}},
        "not an event",
        usage_event(quantity=7, id="a"),  # the same (source, id) as the first
        usage_event(quantity=7, id="a", source="https://other.test/"),  # another source: another event
    ]
    answer = send_batch(services, events)
    assert answer.status_code == 200, answer.json()
    results = answer.json()["results"]
    assert [(result["id"], result["status"], result.get("reason")) for result in results] == [
        ("a", "accepted", None),
        ("b", "refused", "unknown_meter"),
        ("c", "refused", "capability_disabled"),
        ("d", "refused", "bad_quantity"),
        ("e", "refused", "outside_window"),
        ("f", "refused", "foreign_organization"),
        (None, "refused", "malformed"),
        ("h", "refused", "malformed"),
        (None, "refused", "malformed"),
        ("a", "duplicate", None),
        ("a", "accepted", None),
    ]
    assert all(result["detail"] for result in results if result["status"] == "refused")
    assert recorded(acme) == 12

    with django_capture_on_commit_callbacks(execute=True):
        metering_actions.save_budget(alice, acme, capability="ocr", amount=Decimal("0.00"))
    stopped = send_batch(services, [usage_event(id="z")]).json()["results"]
    assert stopped[0]["reason"] == "budget_exhausted"


def test_a_batch_sent_again_counts_nothing(services, acme):
    events = [usage_event(quantity=n) for n in range(1, 51)]
    first = send_batch(services, events).json()["results"]
    assert {result["status"] for result in first} == {"accepted"}
    again = send_batch(services, [*events[25:], usage_event(quantity=100)]).json()["results"]
    assert [result["status"] for result in again] == ["duplicate"] * 25 + ["accepted"]
    assert recorded(acme) == sum(range(1, 51)) + 100
    assert UsageRollup.objects.get(organization=acme, meter="pages").events == 51


def test_a_late_event_lands_in_its_own_hour(services, acme):
    received = timezone.now()
    late = received - timedelta(days=33, hours=23)
    answer = send_batch(services, [usage_event(quantity=9, time=late), usage_event(quantity=1)])
    assert [result["status"] for result in answer.json()["results"]] == ["accepted", "accepted"]
    late_hour = UsageRollup.objects.get(organization=acme, hour=hour_of(late))
    assert (late_hour.quantity, late_hour.events) == (9, 1)
    assert UsageRollup.objects.filter(organization=acme).exclude(hour=hour_of(late)).get().quantity == 1


def test_time_with_an_offset_is_the_same_moment(services, acme):
    moment = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    offset = moment.astimezone(timezone.get_fixed_timezone(330)).isoformat()
    body = {
        "specversion": "1.0",
        "id": "ist",
        "source": SOURCE,
        "type": "ocr.pages",
        "time": offset,
        "data": {"quantity": 1},
    }
    assert send_batch(services, [body]).json()["results"][0]["status"] == "accepted"
    assert UsageEvent.objects.get(organization=acme).occurred_at == moment
    naive = {**body, "id": "naive", "time": moment.replace(tzinfo=None).isoformat()}
    assert send_batch(services, [naive]).json()["results"][0]["reason"] == "malformed"


def test_every_accepted_moment_is_within_the_push_horizon():
    """The window usage is taken in ends an hour and more before the push's
    horizon, so nothing accepted reaches Stripe only through reconciliation."""
    from billing.push import STRIPE_HORIZON
    from capabilities.usage_events import OLDEST

    assert OLDEST + timedelta(hours=1) < STRIPE_HORIZON


def test_over_a_thousand_events_is_413(services):
    events = [usage_event(id=str(n)) for n in range(1001)]
    answer = send_batch(services, events)
    assert answer.status_code == 413
    assert answer.json()["code"] == "batch_too_large"
    assert not UsageEvent.objects.exists()


def test_a_thousand_events_in_one_batch(services, acme):
    answer = send_batch(services, [usage_event(quantity=2) for _ in range(1000)])
    assert answer.status_code == 200
    assert recorded(acme) == 2000


# --- who may report --------------------------------------------------------------------


def test_another_organizations_key_cannot_report_for_acme(services, gina, globex, switch, acme):
    switch(gina, globex, "ocr")
    _key, secret = create_api_key(gina, globex, name="globex ocr", scope="use")
    answer = send(api_key_client(secret), usage_event(subject="acme"))
    assert answer.status_code == 403
    assert answer.json()["reason"] == "foreign_organization"
    assert "acme" not in answer.json()["detail"]
    assert not UsageEvent.objects.exists()


def test_a_read_key_and_a_signed_in_member_report_nothing(services, alice, acme, client_for):
    _key, secret = create_api_key(alice, acme, name="dashboard", scope="read")
    assert send(api_key_client(secret), usage_event()).status_code == 403
    answer = send(client_for(alice), usage_event())
    assert answer.status_code == 403
    assert answer.json()["code"] == "reporter_required"
    assert send(Client(), usage_event()).status_code in (401, 403)
    assert not UsageEvent.objects.exists()


# --- an external capability's service credential (issue 18) -------------------------------


@pytest.fixture
def translation_service(register, ivan, alice, acme, gina, globex, switch) -> Client:
    """The translation service, registered, on for acme and off for globex,
    reporting with its credential."""
    from capabilities import services as service_actions

    service = register("translation")
    switch(alice, acme, "translation")
    _credential, secret = service_actions.issue_credential(ivan, service, name="prod")
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_a_service_reports_its_own_usage_for_the_organizations_using_it(translation_service, acme, globex):
    answer = send_batch(
        translation_service,
        [
            usage_event("translation.characters", 40, subject="acme"),
            usage_event("translation.characters", 5, subject="globex"),
            usage_event("ocr.pages", 3, subject="acme"),
            usage_event("translation.characters", 2),
        ],
    )
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [result["status"] for result in results] == ["accepted", "refused", "refused", "refused"]
    assert results[1]["reason"] == "capability_disabled"  # globex has it off
    assert results[2]["reason"] == "foreign_organization"  # not its capability
    assert results[3]["reason"] == "foreign_organization"  # a service must name the organization
    assert recorded(acme, "characters") == 40
    assert recorded(globex, "characters") == 0


def test_a_revoked_or_unknown_service_credential_reports_nothing(translation_service, ivan, acme):
    from capabilities import services as service_actions
    from capabilities.models import ServiceCredential

    service_actions.revoke_credential(ivan, ServiceCredential.objects.get())
    answer = send(translation_service, usage_event("translation.characters", 1, subject="acme"))
    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]
    unknown = Client(headers={"Authorization": "Bearer nothing.of-ours"})
    assert send(unknown, usage_event("translation.characters", 1, subject="acme")).status_code == 401
    assert not UsageEvent.objects.exists()


def test_a_budget_on_a_service_stops_its_usage(
    translation_service, alice, acme, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        metering_actions.save_budget(alice, acme, capability="translation", amount=Decimal("0.00"))
    answer = send(translation_service, usage_event("translation.characters", 1, subject="acme"))
    assert answer.status_code == 402
    assert answer.json()["reason"] == "budget_exhausted"
    assert not UsageEvent.objects.exists()


def test_a_service_credential_reaches_no_other_endpoint(translation_service):
    for url in ("/api/v1/capabilities/", "/api/v1/jobs/", "/api/v1/usage/"):
        assert translation_service.get(url).status_code in (401, 403), url


# --- not CloudEvents -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"specversion": "1.0", ', SINGLE, 400, "parse_error"),
        (b"\xff\xfe", SINGLE, 400, "parse_error"),
        (b"", SINGLE, 400, "parse_error"),
        (b'{"specversion": "1.0"}', BATCH, 400, "parse_error"),
        (b"[]", SINGLE, 400, "parse_error"),
        (b'{"quantity": 1}', "application/json", 415, "unsupported_media_type"),
        (b"quantity=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"", "application/json", 415, "unsupported_media_type"),
    ],
    ids=["truncated", "not utf-8", "empty", "batch not an array", "array as one", "json", "form", "none"],
)
def test_a_body_that_is_not_cloudevents_is_a_clear_4xx(services, body, content_type, status, code):
    # CONTENT_TYPE too: Django's test client drops it from a request without a body.
    answer = services.post(URL, data=body, content_type=content_type, CONTENT_TYPE=content_type)
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["detail"]


def test_the_415_names_the_media_types(services):
    detail = services.post(URL, data=b"{}", content_type="application/json").json()["detail"]
    assert SINGLE in detail and BATCH in detail


def test_an_empty_batch_is_an_empty_answer(services):
    answer = services.post(URL, data=b"[]", content_type=BATCH)
    assert answer.status_code == 200
    assert answer.json() == {"results": []}


def test_nul_characters_are_refused_not_a_500(services):
    event = {
        "specversion": "1.0",
        "id": "a\x00b",
        "source": SOURCE,
        "type": "ocr.pages",
        "data": {"quantity": 1},
    }
    results = send_batch(services, [event, {**event, "id": "ok", "source": "s\x00"}]).json()["results"]
    assert [result["reason"] for result in results] == ["malformed", "malformed"]


# --- a batch whose commit failed, sent again -----------------------------------------------


@pytest.fixture
def failing_commit(transactional_db):
    """A deferred constraint trigger that fails the commit of any transaction
    recording the event with id `poison`: the whole batch rolls back at COMMIT,
    after every statement succeeded."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION test_fail_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.idempotency_key LIKE '%:poison' THEN
                    RAISE EXCEPTION 'commit refused for the test';
                END IF;
                RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER test_fail_poison AFTER INSERT ON metering_usageevent
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_poison();
            """
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER IF EXISTS test_fail_poison ON metering_usageevent;"
            " DROP FUNCTION IF EXISTS test_fail_poison();"
        )


def test_a_batch_whose_commit_failed_is_sent_again_nothing_lost_nothing_doubled(
    failing_commit, services, acme
):
    events = [usage_event(quantity=n, id=f"retry-{n}") for n in range(1, 21)]
    events.append(usage_event(quantity=1000, id="poison"))
    failed = send_batch(services, events)
    assert failed.status_code == 503
    assert failed.json()["code"] == "not_recorded"
    assert recorded(acme) == 0
    assert not UsageRollup.objects.filter(organization=acme).exists()

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_fail_poison ON metering_usageevent")
    resent = send_batch(services, events).json()["results"]
    assert {result["status"] for result in resent} == {"accepted"}
    again = send_batch(services, events).json()["results"]
    assert {result["status"] for result in again} == {"duplicate"}
    assert recorded(acme) == sum(range(1, 21)) + 1000
    rollup = UsageRollup.objects.get(organization=acme, meter="pages")
    assert (rollup.quantity, rollup.events) == (sum(range(1, 21)) + 1000, 21)


def test_the_longest_source_and_id_fit_the_ledger_key():
    ids = {uuid.uuid4().hex for _ in range(3)}
    assert len({idempotency_key(SOURCE, event_id) for event_id in ids}) == 3
    assert len(idempotency_key("x" * 1024, "i" * 128)) <= 200
