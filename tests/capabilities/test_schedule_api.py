"""The scheduled switches API: `GET/POST /api/v1/capabilities/{key}/schedules`
and `DELETE …/schedules/{id}`, for sessions and organization API keys, with
the bad input a caller can send (a time in the past, an unknown capability or
time zone, a switch to the state it will already be in, cancelling twice or
another organization's schedule)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from capabilities.models import ScheduledSwitch
from capabilities.schedules import apply_due, schedule_switch
from portal.actions.api_keys import create_api_key
from tests.capabilities.state import api_key_client

URL = "/api/v1/capabilities/ocr/schedules"


def post(client: Client, payload: dict, url: str = URL):
    return client.post(url, payload, content_type="application/json")


def tomorrow() -> str:
    return (timezone.now() + timedelta(days=1)).isoformat()


def test_alice_schedules_ocr_on_and_lists_it(client_for, alice, acme):
    client = client_for(alice)

    response = post(client, {"enabled": True, "at": "2099-01-05T09:00:00", "time_zone": "Europe/Paris"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Schedule at most a year ahead.", "code": "moment_too_far"}

    at = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = post(client, {"enabled": True, "at": at.isoformat(), "reason": "pilot"})

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["capability"] == "ocr"
    assert created["enabled"] is True
    assert created["status"] == "pending"
    assert created["created_by"] == "alice@acme.test"
    assert created["time_zone"] == "UTC"
    assert created["outcome"] == ""
    listed = client.get(URL)
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()] == [created["id"]]


def test_a_moment_without_an_offset_is_read_in_the_time_zone(client_for, alice):
    local = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo("Asia/Tokyo"))
    wall = local.strftime("%Y-%m-%dT%H:%M:00")

    response = post(client_for(alice), {"enabled": True, "at": wall, "time_zone": "Asia/Tokyo"})

    assert response.status_code == 201, response.content
    schedule = ScheduledSwitch.objects.get()
    assert schedule.local_at.strftime("%Y-%m-%dT%H:%M:00") == wall
    assert response.json()["time_zone"] == "Asia/Tokyo"


def test_end_of_period(client_for, alice, acme, switch):
    switch(alice, acme, "ocr", enabled=True)

    response = post(client_for(alice), {"enabled": False, "end_of_period": True})

    assert response.status_code == 201, response.content
    assert response.json()["end_of_period"] is True
    assert ScheduledSwitch.objects.get().at.day == 1


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        (
            {"enabled": True, "at": "2020-01-01T00:00:00Z"},
            "moment_in_past",
            "That moment has passed; choose a time in the future.",
        ),
        (
            {"enabled": False, "at": "TOMORROW"},
            "already_in_state",
            "Text recognition will already be off then.",
        ),
    ],
)
def test_a_refused_schedule_is_a_400_with_its_code(client_for, alice, payload, code, message):
    payload = {name: tomorrow() if value == "TOMORROW" else value for name, value in payload.items()}

    response = post(client_for(alice), payload)

    assert response.status_code == 400, response.content
    assert response.json() == {"detail": message, "code": code}
    assert not ScheduledSwitch.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"enabled": True}, "at"),
        ({"enabled": True, "end_of_period": True, "at": "2099-01-01T00:00:00Z"}, "at"),
        ({"enabled": True, "at": "TOMORROW", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"enabled": True, "at": "not a time"}, "at"),
        ({"at": "TOMORROW"}, "enabled"),
        ({"enabled": True, "at": "TOMORROW", "reason": "x" * 301}, "reason"),
    ],
)
def test_invalid_fields_are_a_400_naming_them(client_for, alice, payload, field):
    payload = {name: tomorrow() if value == "TOMORROW" else value for name, value in payload.items()}

    response = post(client_for(alice), payload)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"]
    assert not ScheduledSwitch.objects.exists()


def test_an_unknown_capability_is_404(client_for, alice):
    client = client_for(alice)
    assert (
        post(
            client, {"enabled": True, "at": tomorrow()}, "/api/v1/capabilities/retired/schedules"
        ).status_code
        == 404
    )
    assert client.get("/api/v1/capabilities/retired/schedules").status_code == 404


def test_a_locked_capability_is_409(client_for, alice, ivan, acme, force):
    force(ivan, acme, "ocr", enabled=False, reason="contract ended")

    response = post(client_for(alice), {"enabled": True, "at": tomorrow()})

    assert response.status_code == 409
    assert response.json()["code"] == "capability_locked"
    assert "contract ended" in response.json()["detail"]


def test_bob_reads_but_cannot_schedule_or_cancel(client_for, alice, bob, acme):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=timezone.now() + timedelta(days=1))
    client = client_for(bob)

    assert client.get(URL).status_code == 200
    assert post(client, {"enabled": True, "at": tomorrow()}).status_code == 403
    assert client.delete(f"{URL}/{schedule.pk}").status_code == 403


def test_a_manage_key_schedules_for_its_creator_and_a_read_key_cannot(alice, acme):
    _, manage = create_api_key(alice, acme, name="ops", scope="manage")
    _, read = create_api_key(alice, acme, name="dash", scope="read")

    response = post(api_key_client(manage), {"enabled": True, "at": tomorrow()})
    assert response.status_code == 201
    assert response.json()["created_by"] == "alice@acme.test"
    assert post(api_key_client(read), {"enabled": True, "at": tomorrow()}).status_code == 403
    assert api_key_client(read).get(URL).status_code == 200


def test_cancelling_a_pending_schedule_then_again(client_for, alice, acme):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=timezone.now() + timedelta(days=1))
    client = client_for(alice)

    response = client.delete(f"{URL}/{schedule.pk}")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = client.delete(f"{URL}/{schedule.pk}")
    assert again.status_code == 409
    assert "this one is cancelled" in again.json()["detail"]


def test_cancelling_an_applied_schedule_is_409(client_for, alice, acme):
    at = timezone.now() + timedelta(minutes=5)
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=at)
    apply_due(at)

    response = client_for(alice).delete(f"{URL}/{schedule.pk}")

    assert response.status_code == 409
    assert "this one is applied" in response.json()["detail"]


def test_gina_gets_404_for_acmes_schedule_and_never_lists_it(client_for, alice, gina, acme):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=timezone.now() + timedelta(days=1))
    client = client_for(gina)

    assert client.delete(f"{URL}/{schedule.pk}").status_code == 404
    assert client.get(f"{URL}/{schedule.pk}").status_code == 404
    assert client.get(URL).json() == []
    assert ScheduledSwitch.objects.get().status == ScheduledSwitch.Status.PENDING


def test_the_endpoints_are_in_the_openapi_schema(client_for, alice):
    schema = client_for(alice).get("/api/schema/", headers={"Accept": "application/json"}).content.decode()

    assert "/api/v1/capabilities/{key}/schedules" in schema
    assert "/api/v1/capabilities/{key}/schedules/{schedule_id}" in schema
    assert "moment_in_past" in schema
