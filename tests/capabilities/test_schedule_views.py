"""Scheduled switches in the pages: the capability page's section (form,
pending list with cancel, recent outcomes), the catalog card's note, and the
IT admin's per-tenant page. Moments are given ahead of the wall clock; no
assertion depends on it."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from capabilities.models import ScheduledSwitch
from capabilities.schedules import apply_due, schedule_switch
from portal.models import AuditEntry
from tests.capabilities.test_views import card
from tests.html import text

PAGE = "/capabilities/ocr/"
PARIS = ZoneInfo("Europe/Paris")


def in_two_days() -> str:
    """A wall time in Paris two days ahead, as the datetime-local input sends it."""
    return (timezone.now() + timedelta(days=2)).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def form(**values: str) -> dict[str, str]:
    return {
        "enabled": "on",
        "when": "moment",
        "at": in_two_days(),
        "time_zone": "Europe/Paris",
        "include_related": "on",
        "reason": "pilot",
        **values,
    }


def test_the_capability_page_offers_to_schedule_and_says_none_is(client_for, alice):
    page = text(client_for(alice).get(PAGE))

    assert "Scheduled switches" in page
    assert "No switch of Text recognition is scheduled." in page
    assert "Schedule a switch" in page
    assert 'type="datetime-local"' in page
    assert '<option value="on" selected>On</option>' in page  # ocr is off: the form proposes on


def test_alice_schedules_ocr_on_from_its_page(client_for, alice, acme):
    client = client_for(alice)
    at = in_two_days()

    response = client.post("/capabilities/ocr/schedules/", form(at=at))

    assert response.status_code == 302
    schedule = ScheduledSwitch.objects.get()
    assert (schedule.organization, schedule.created_by, schedule.enabled) == (acme, alice, True)
    assert schedule.time_zone == "Europe/Paris"
    assert schedule.local_at.strftime("%Y-%m-%dT%H:%M") == at  # the wall time typed, in Paris
    assert AuditEntry.objects.filter(action="capability.switch_scheduled", actor=alice).exists()
    page = text(client.get(PAGE))
    assert "Text recognition will be switched on at" in page
    local = schedule.local_at
    assert (
        f'{local:%a} {local.day} {local:%b %Y, %H:%M} <span class="muted small">Europe/Paris</span>' in page
    )
    assert "alice@acme.test" in page and "pilot" in page
    assert "Switches on" in page
    catalog = text(client.get("/"))
    assert "Switches on" in card(catalog, "ocr")
    assert "Switches" not in card(catalog, "glossary")


def test_at_the_end_of_the_billing_period_needs_no_date(client_for, alice, acme, switch):
    switch(alice, acme, "ocr", enabled=True)

    response = client_for(alice).post(
        "/capabilities/ocr/schedules/", form(enabled="off", when="end_of_period", at="")
    )

    assert response.status_code == 302
    schedule = ScheduledSwitch.objects.get()
    assert schedule.end_of_period and not schedule.enabled
    assert (schedule.at.day, schedule.at.hour, schedule.at.minute) == (1, 0, 0)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"at": "2020-01-01T09:00"}, "That moment has passed; choose a time in the future."),
        ({"at": ""}, "Choose a date and time, or the end of this billing period."),
        ({"at": "next tuesday"}, "Enter a valid date/time."),
        ({"enabled": "off"}, "Text recognition will already be off then."),
        ({"time_zone": "Mars/Olympus"}, "Your browser gave a time zone we do not know; reload the page."),
        ({"enabled": "maybe"}, "Select a valid choice."),
    ],
)
def test_bad_input_answers_400_with_the_reason_on_the_page(client_for, alice, values, error):
    response = client_for(alice).post("/capabilities/ocr/schedules/", form(**values))

    assert response.status_code == 400
    page = text(response)
    assert error in page
    assert '<details class="budget-add" open>' in page  # the form stays open with its error
    assert not ScheduledSwitch.objects.exists()


def test_bob_sees_the_pending_switch_but_cannot_schedule_or_cancel(client_for, alice, bob, acme):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=timezone.now() + timedelta(days=1))
    client = client_for(bob)

    page = text(client.get(PAGE))
    assert "alice@acme.test" in page
    assert "Schedule a switch" not in page
    assert "Cancel this scheduled switch?" not in page
    assert client.post("/capabilities/ocr/schedules/", form()).status_code == 403
    assert client.post(f"/capabilities/ocr/schedules/{schedule.pk}/cancel/").status_code == 403
    assert ScheduledSwitch.objects.get().status == ScheduledSwitch.Status.PENDING


def test_alice_cancels_and_the_page_lists_it_as_cancelled(client_for, alice, acme):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=timezone.now() + timedelta(days=1))
    client = client_for(alice)

    response = client.post(f"/capabilities/ocr/schedules/{schedule.pk}/cancel/", follow=True)

    page = text(response)
    assert "The scheduled switch is cancelled." in page
    assert "No switch of Text recognition is scheduled." in page
    assert "Recently" in page and "Cancelled by alice@acme.test." in page
    again = client.post(f"/capabilities/ocr/schedules/{schedule.pk}/cancel/", follow=True)
    assert "Only pending schedules can be cancelled; this one is cancelled." in text(again)


def test_a_failed_schedule_shows_its_reason_on_the_page(client_for, alice, acme):
    at = timezone.now() + timedelta(minutes=5)
    schedule_switch(alice, acme, "summaries", enabled=True, at=at)
    apply_due(at)

    page = text(client_for(alice).get("/capabilities/summaries/"))

    assert "Failed" in page
    assert "Summaries needs Text recognition switched on too." in page


def test_gina_cannot_cancel_acmes_schedule(client_for, alice, gina, acme):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=timezone.now() + timedelta(days=1))
    client = client_for(gina)

    assert client.post(f"/capabilities/ocr/schedules/{schedule.pk}/cancel/").status_code == 404
    assert "alice@acme.test" not in text(client.get(PAGE))
    assert ScheduledSwitch.objects.get().status == ScheduledSwitch.Status.PENDING


def test_the_schedule_of_another_capability_is_not_found_under_this_one(client_for, alice, acme):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=timezone.now() + timedelta(days=1))

    response = client_for(alice).post(f"/capabilities/glossary/schedules/{schedule.pk}/cancel/")

    assert response.status_code == 404


def test_an_unknown_capability_answers_404(client_for, alice):
    assert client_for(alice).post("/capabilities/retired/schedules/", form()).status_code == 404


# --- the IT admin's page ---------------------------------------------------------------

MANAGE = "/manage/organizations/acme/capabilities/"


def test_ivan_schedules_and_cancels_a_switch_for_acme(client_for, ivan, acme):
    client = client_for(ivan)
    assert "No switch is scheduled for Acme Corp." in text(client.get(MANAGE))

    response = client.post("/manage/organizations/acme/schedules/", form(capability="glossary"), follow=True)

    page = text(response)
    assert "For Acme Corp: Glossary will be switched on at" in page
    schedule = ScheduledSwitch.objects.get()
    assert (schedule.organization, schedule.created_by, schedule.capability_key) == (acme, ivan, "glossary")
    assert "ivan@switchboard.test" in page

    response = client.post(f"/manage/organizations/acme/schedules/{schedule.pk}/cancel/", follow=True)
    assert "The scheduled switch for Acme Corp is cancelled." in text(response)
    assert ScheduledSwitch.objects.get().status == ScheduledSwitch.Status.CANCELLED


def test_ivans_bad_input_is_a_message(client_for, ivan, acme):
    response = client_for(ivan).post(
        "/manage/organizations/acme/schedules/",
        form(capability="glossary", at="2020-01-01T09:00"),
        follow=True,
    )

    assert "That moment has passed; choose a time in the future." in text(response)
    assert not ScheduledSwitch.objects.exists()


def test_fiona_and_alice_cannot_schedule_from_the_manage_pages(client_for, fiona, alice, acme):
    for person in (fiona, alice):
        response = client_for(person).post(
            "/manage/organizations/acme/schedules/", form(capability="glossary")
        )
        assert response.status_code == 403
    assert not ScheduledSwitch.objects.exists()
