"""Scheduled switches (issue 19): scheduling and cancelling through the actions,
and beat's task (`apply_due`) at fixed fake moments, never the wall clock. A
due schedule is applied as a manual switch by its author would be (locks, the
dependency rule); one that can no longer be applied fails with the reason and
its author is emailed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from capabilities import schedules
from capabilities.actions import CapabilityLocked
from capabilities.models import ScheduledSwitch, ToggleChange
from capabilities.schedules import apply_due, cancel_schedule, schedule_switch
from portal.actions.errors import ActionError
from portal.models import AuditEntry, Membership
from tests.capabilities.state import enabled_in

# A Tuesday in the middle of a billing period (November 2026).
NOW = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
MONDAY_9_PARIS = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00 in Paris (CET, UTC+1)


@pytest.fixture
def beat(django_capture_on_commit_callbacks):
    """Beat's run at a given moment, with what it does after commit (emails)."""

    def run(moment: datetime) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return apply_due(moment)

    return run


def actions_of(organization, prefix: str = "capability.s") -> list[str]:
    return list(
        AuditEntry.objects.filter(organization=organization, action__startswith=prefix)
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- scheduling ---------------------------------------------------------------------


def test_alice_schedules_ocr_on_for_monday_nine_in_paris(alice, acme):
    at = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))

    schedule = schedule_switch(
        alice, acme, "ocr", enabled=True, at=at, time_zone="Europe/Paris", reason="pilot starts", now=NOW
    )

    assert schedule.status == ScheduledSwitch.Status.PENDING
    assert schedule.at == MONDAY_9_PARIS
    assert schedule.local_at.hour == 9
    assert schedules.moment_text(schedule) == "Mon 23 Nov 2026, 09:00 (Europe/Paris)"
    entry = AuditEntry.objects.get(organization=acme, action="capability.switch_scheduled")
    assert entry.actor == alice
    assert entry.details["capability"] == "ocr"
    assert entry.details["at"] == "2026-11-23T09:00:00+01:00"
    assert enabled_in(acme) == set()  # nothing switches before its time


def test_at_the_end_of_the_billing_period_means_midnight_utc_on_the_first(alice, acme, switch):
    switch(alice, acme, "ocr", enabled=True)

    schedule = schedule_switch(alice, acme, "ocr", enabled=False, end_of_period=True, now=NOW)

    assert schedule.at == datetime(2026, 12, 1, tzinfo=UTC)
    assert schedule.end_of_period
    assert schedules.moment_text(schedule).startswith("the end of the billing period, Tue 1 Dec 2026, 00:00")


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (NOW - timedelta(minutes=1), "moment_in_past"),
        (NOW, "moment_in_past"),
        (NOW + timedelta(days=367), "moment_too_far"),
        (None, "moment_required"),
        (datetime(2026, 11, 20, 9, 0), "naive_moment"),
    ],
)
def test_a_moment_that_is_not_ahead_is_refused(alice, acme, at, code):
    with pytest.raises(ActionError) as refusal:
        schedule_switch(alice, acme, "ocr", enabled=True, at=at, now=NOW)

    assert refusal.value.code == code
    assert not ScheduledSwitch.objects.exists()


def test_switching_to_the_state_it_will_already_be_in_is_refused(alice, acme):
    with pytest.raises(ActionError, match="Text recognition will already be off then") as refusal:
        schedule_switch(alice, acme, "ocr", enabled=False, at=NOW + timedelta(hours=1), now=NOW)
    assert refusal.value.code == "already_in_state"

    schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)
    # Later than the first schedule, ocr will already be on; earlier, it is still off.
    with pytest.raises(ActionError, match="already be on"):
        schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=2), now=NOW)
    schedule_switch(alice, acme, "ocr", enabled=False, at=NOW + timedelta(hours=2), now=NOW)

    assert ScheduledSwitch.objects.count() == 2


def test_an_unknown_time_zone_is_refused(alice, acme):
    with pytest.raises(ActionError) as refusal:
        schedule_switch(
            alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), time_zone="Mars/Olympus", now=NOW
        )
    assert refusal.value.code == "unknown_time_zone"


def test_a_locked_capability_cannot_be_scheduled(alice, ivan, acme, force):
    force(ivan, acme, "ocr", enabled=False, reason="contract ended")

    with pytest.raises(CapabilityLocked, match="contract ended"):
        schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)


def test_bob_a_member_cannot_schedule_but_ivan_an_it_admin_can(bob, ivan, acme):
    with pytest.raises(ActionError) as refusal:
        schedule_switch(bob, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)
    assert refusal.value.code == "managing_role_required"

    schedule = schedule_switch(ivan, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)
    assert schedule.created_by == ivan


def test_an_uninstalled_capability_cannot_be_scheduled(alice, acme):
    with pytest.raises(LookupError):
        schedule_switch(alice, acme, "retired", enabled=True, at=NOW + timedelta(hours=1), now=NOW)


# --- cancelling -----------------------------------------------------------------------


def test_a_cancelled_schedule_is_not_applied_and_cannot_be_cancelled_twice(alice, dan, acme, beat):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)

    cancelled = cancel_schedule(dan, schedule, now=NOW)
    assert cancelled.status == ScheduledSwitch.Status.CANCELLED
    assert cancelled.outcome == "Cancelled by dan@acme.test."
    with pytest.raises(ActionError, match="this one is cancelled") as refusal:
        cancel_schedule(alice, schedule, now=NOW)
    assert refusal.value.code == "not_pending"

    assert beat(NOW + timedelta(hours=2)) == 0
    assert enabled_in(acme) == set()
    assert actions_of(acme) == ["capability.switch_scheduled", "capability.schedule_cancelled"]


def test_bob_cannot_cancel(alice, bob, acme):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)
    with pytest.raises(ActionError) as refusal:
        cancel_schedule(bob, schedule, now=NOW)
    assert refusal.value.code == "managing_role_required"


def test_an_applied_schedule_cannot_be_cancelled(alice, acme, beat):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(minutes=5), now=NOW)
    beat(NOW + timedelta(minutes=5, seconds=30))

    with pytest.raises(ActionError, match="this one is applied"):
        cancel_schedule(alice, schedule, now=NOW + timedelta(minutes=6))


# --- beat ----------------------------------------------------------------------------------


def test_beat_applies_a_schedule_within_the_minute_of_its_time_and_not_before(alice, acme, beat):
    schedule_switch(alice, acme, "ocr", enabled=True, at=MONDAY_9_PARIS, reason="pilot starts", now=NOW)

    assert beat(MONDAY_9_PARIS - timedelta(seconds=1)) == 0
    assert enabled_in(acme) == set()

    assert beat(MONDAY_9_PARIS + timedelta(seconds=40)) == 1

    assert enabled_in(acme) == {"ocr"}
    schedule = ScheduledSwitch.objects.get()
    assert schedule.status == ScheduledSwitch.Status.APPLIED
    assert schedule.outcome == "Switched on: Text recognition."
    assert schedule.finished_at == MONDAY_9_PARIS + timedelta(seconds=40)
    change = ToggleChange.objects.get(organization=acme, capability_key="ocr")
    assert (change.actor, change.reason) == (alice, "Scheduled by alice@acme.test: pilot starts")
    assert actions_of(acme, "capability.") == [
        "capability.switch_scheduled",
        "capability.enabled",
        "capability.schedule_applied",
    ]
    assert beat(MONDAY_9_PARIS + timedelta(minutes=2)) == 0  # once


def test_schedules_apply_in_the_order_of_their_moments(alice, acme, beat):
    schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(minutes=1), now=NOW)
    schedule_switch(alice, acme, "ocr", enabled=False, at=NOW + timedelta(minutes=2), now=NOW)

    assert beat(NOW + timedelta(minutes=3)) == 2  # beat was away: both are due

    assert enabled_in(acme) == set()
    changes = ToggleChange.objects.filter(organization=acme, capability_key="ocr").order_by("id")
    assert [change.to_enabled for change in changes] == [True, False]


def test_the_dependency_rule_fails_a_schedule_and_its_author_is_emailed_once(dan, acme, beat, mailoutbox):
    schedule_switch(dan, acme, "summaries", enabled=True, at=NOW + timedelta(hours=1), now=NOW)

    assert beat(NOW + timedelta(hours=1)) == 1

    schedule = ScheduledSwitch.objects.get()
    assert schedule.status == ScheduledSwitch.Status.FAILED
    assert schedule.outcome == "Summaries needs Text recognition switched on too."
    assert enabled_in(acme) == set()
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["dan@acme.test"]
    assert email.subject == "[Acme Corp] Scheduled switch of Summaries failed"
    assert "Summaries needs Text recognition switched on too." in email.body
    assert f"{settings.PORTAL_URL}/capabilities/summaries/" in email.body
    assert actions_of(acme) == ["capability.switch_scheduled", "capability.schedule_failed"]
    assert schedules.notify_pending() == 0  # told once
    assert len(mailoutbox) == 1


def test_with_include_related_what_it_needs_switches_on_too(alice, acme, beat):
    schedule_switch(
        alice, acme, "summaries", enabled=True, at=NOW + timedelta(hours=1), include_related=True, now=NOW
    )

    beat(NOW + timedelta(hours=1))

    assert enabled_in(acme) == {"summaries", "ocr"}
    assert ScheduledSwitch.objects.get().outcome == "Switched on: Summaries, Text recognition."


def test_a_lock_set_after_scheduling_fails_the_schedule(alice, ivan, acme, beat, force, mailoutbox):
    schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)
    force(ivan, acme, "ocr", enabled=False, reason="under review")

    beat(NOW + timedelta(hours=1))

    schedule = ScheduledSwitch.objects.get()
    assert schedule.status == ScheduledSwitch.Status.FAILED
    assert "locked by your platform administrator: under review" in schedule.outcome
    assert [email.to for email in mailoutbox] == [["alice@acme.test"]]


def test_an_author_who_lost_the_role_fails_the_schedule(dan, acme, beat):
    schedule_switch(dan, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)
    Membership.objects.filter(user=dan, organization=acme).update(role="member")

    beat(NOW + timedelta(hours=1))

    schedule = ScheduledSwitch.objects.get()
    assert schedule.status == ScheduledSwitch.Status.FAILED
    assert schedule.outcome == "dan@acme.test, who scheduled it, is no longer an owner or admin of Acme Corp."
    assert enabled_in(acme) == set()


def test_a_suspended_organization_fails_its_schedules(alice, ivan, acme, beat):
    schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)
    acme.status = acme.Status.SUSPENDED
    acme.save()

    beat(NOW + timedelta(hours=1))

    assert ScheduledSwitch.objects.get().outcome == "Acme Corp is suspended."


def test_a_switch_already_made_by_hand_is_applied_with_nothing_to_change(alice, acme, beat, switch):
    schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(hours=1), now=NOW)
    switch(alice, acme, "ocr", enabled=True)

    beat(NOW + timedelta(hours=1))

    schedule = ScheduledSwitch.objects.get()
    assert schedule.status == ScheduledSwitch.Status.APPLIED
    assert schedule.outcome == "Text recognition was already on; nothing changed."


def test_a_schedule_claimed_by_another_run_waits_for_its_claim_to_end(alice, acme, beat):
    schedule = schedule_switch(alice, acme, "ocr", enabled=True, at=NOW + timedelta(minutes=1), now=NOW)
    # Another beat run took it and died before it finished.
    ScheduledSwitch.objects.filter(pk=schedule.pk).update(claimed_until=NOW + timedelta(minutes=6))

    assert beat(NOW + timedelta(minutes=2)) == 0
    assert enabled_in(acme) == set()
    with pytest.raises(ActionError, match="being applied right now"):
        cancel_schedule(alice, schedule, now=NOW + timedelta(minutes=2))

    assert beat(NOW + timedelta(minutes=7)) == 1
    assert enabled_in(acme) == {"ocr"}


def test_beat_runs_the_task_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["apply-scheduled-switches"]
    assert entry["task"] == schedules.apply_schedules.name == "capabilities.apply_schedules"
    assert entry["schedule"] == 60.0
