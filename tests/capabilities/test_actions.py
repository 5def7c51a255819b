"""Changing toggles: `set_capability_enabled` for the organization,
`force_capability` and `unlock_capability` for IT admins. Every change writes
its row, its history and its audit entry together, keeps the dependency rule,
and is announced only after commit.

One module for the toggle actions: their rules (locks, dependencies,
announcements) are tested together because they interact.
"""

from __future__ import annotations

import random

import pytest
from django.db import DatabaseError, connection, transaction

from capabilities import actions
from capabilities.actions import (
    CapabilityLocked,
    DependencyConflict,
    force_capability,
    set_capability_enabled,
    unlock_capability,
)
from capabilities.models import FeatureToggle, ToggleChange
from capabilities.signals import capability_toggled
from portal.actions.errors import ActionError
from portal.models import AuditEntry
from tests.capabilities.state import assert_dependency_rule, enabled_in, states


def history(organization, key: str) -> list[tuple[bool, bool, str, str, str]]:
    """(from, to, who, why, source) of a capability's changes, newest first."""
    return [
        (change.from_enabled, change.to_enabled, change.actor_email, change.reason, change.source)
        for change in ToggleChange.objects.filter(organization=organization, capability_key=key)
    ]


def audited(organization, action: str) -> list[dict]:
    return [
        entry.details
        for entry in AuditEntry.objects.filter(organization=organization, action=action).order_by("id")
    ]


@pytest.fixture
def toggled():
    """Every capability_toggled signal, as (organization slug, key, enabled, actor email)."""
    received = []

    def listener(sender, organization, capability_key, enabled, actor, **kwargs):
        received.append((organization.slug, capability_key, enabled, actor.email))

    capability_toggled.connect(listener)
    yield received
    capability_toggled.disconnect(listener)


# --- the organization switches ------------------------------------------------


def test_alice_switches_ocr_on_and_off_and_both_are_on_record(alice, acme, switch):
    result = switch(alice, acme, "ocr", enabled=True, reason="Scanning supplier invoices")
    assert result.changed == {"ocr": True}
    assert states(acme)["ocr"] == (True, False)

    result = switch(alice, acme, "ocr", enabled=False, reason="Pilot over")
    assert result.changed == {"ocr": False}
    assert states(acme)["ocr"] == (False, False)

    assert history(acme, "ocr") == [
        (True, False, "alice@acme.test", "Pilot over", "organization"),
        (False, True, "alice@acme.test", "Scanning supplier invoices", "organization"),
    ]
    assert audited(acme, "capability.enabled") == [
        {"capability": "ocr", "enabled": True, "locked": False, "reason": "Scanning supplier invoices"}
    ]
    assert audited(acme, "capability.disabled") == [
        {"capability": "ocr", "enabled": False, "locked": False, "reason": "Pilot over"}
    ]
    toggle = FeatureToggle.objects.get(organization=acme, capability_key="ocr")
    assert toggle.updated_by == alice


def test_switching_to_the_current_state_changes_nothing(alice, acme, switch):
    switch(alice, acme, "glossary", enabled=True)

    result = switch(alice, acme, "glossary", enabled=True, reason="Again")

    assert result.changed == {}
    assert len(history(acme, "glossary")) == 1
    assert len(audited(acme, "capability.enabled")) == 1


def test_one_organizations_switch_leaves_another_alone(alice, gina, acme, globex, switch):
    switch(alice, acme, "ocr", enabled=True)

    assert enabled_in(acme) == {"ocr"}
    assert enabled_in(globex) == set()
    assert not ToggleChange.objects.filter(organization=globex).exists()


def test_an_uninstalled_capability_cannot_be_switched(alice, acme):
    with pytest.raises(LookupError):
        set_capability_enabled(alice, acme, "retired", enabled=True)
    assert not FeatureToggle.objects.exists()


def test_the_change_is_its_own_transaction_and_refuses_to_be_nested(alice, acme):
    # durable=True: "committed" always means committed, never part of a larger rollback.
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        set_capability_enabled(alice, acme, "ocr", enabled=True)


# --- the dependency rule ----------------------------------------------------------


def test_switching_summaries_on_without_ocr_asks_to_switch_both(alice, acme):
    with pytest.raises(DependencyConflict) as refusal:
        set_capability_enabled(alice, acme, "summaries", enabled=True)

    assert refusal.value.code == "dependencies_disabled"
    assert refusal.value.others == ["ocr"]
    assert refusal.value.message == "Summaries needs Text recognition switched on too."
    assert enabled_in(acme) == set()
    assert not ToggleChange.objects.exists()


def test_alice_switches_summaries_on_with_what_it_needs(alice, acme, switch):
    result = switch(alice, acme, "summaries", enabled=True, reason="Board packs", include_related=True)

    assert result.changed == {"summaries": True, "ocr": True}
    assert enabled_in(acme) == {"summaries", "ocr"}
    assert history(acme, "summaries") == [(False, True, "alice@acme.test", "Board packs", "organization")]
    assert history(acme, "ocr") == [
        (False, True, "alice@acme.test", "Needed by the change of Summaries: Board packs", "dependency")
    ]
    assert [details["capability"] for details in audited(acme, "capability.enabled")] == ["summaries", "ocr"]


def test_switching_ocr_off_while_summaries_needs_it_asks_first(alice, acme, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    with pytest.raises(DependencyConflict) as refusal:
        set_capability_enabled(alice, acme, "ocr", enabled=False)

    assert refusal.value.code == "dependents_enabled"
    assert refusal.value.others == ["summaries"]
    assert "Summaries needs Text recognition" in refusal.value.message
    assert enabled_in(acme) == {"summaries", "ocr"}


def test_alice_switches_ocr_off_and_summaries_with_it(alice, acme, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    result = switch(alice, acme, "ocr", enabled=False, reason="Budget freeze", include_related=True)

    assert result.changed == {"ocr": False, "summaries": False}
    assert enabled_in(acme) == set()
    assert history(acme, "summaries")[0] == (
        True,
        False,
        "alice@acme.test",
        "Needed by the change of Text recognition: Budget freeze",
        "dependency",
    )


def test_switching_summaries_off_leaves_ocr_on(alice, acme, switch):
    switch(alice, acme, "summaries", enabled=True, include_related=True)

    assert switch(alice, acme, "summaries", enabled=False).changed == {"summaries": False}
    assert enabled_in(acme) == {"ocr"}


def test_no_sequence_of_changes_breaks_the_dependency_rule(alice, dan, ivan, acme, switch, force):
    walk = random.Random(20250331)  # a fixed walk: the same story on every run
    for _ in range(80):
        key = walk.choice(["ocr", "summaries", "glossary"])
        enabled = walk.choice([True, False])
        try:
            if walk.random() < 0.2:
                force(ivan, acme, key, enabled=enabled, reason="Platform decision", lock=walk.random() < 0.5)
            elif walk.random() < 0.1:
                unlock_capability(ivan, acme, key)
            else:
                switch(
                    walk.choice([alice, dan]),
                    acme,
                    key,
                    enabled=enabled,
                    include_related=walk.choice([True, False]),
                )
        except ActionError:
            pass  # refused (dependency, lock, nothing to unlock): the rule must hold all the same
        assert_dependency_rule(acme)
    assert ToggleChange.objects.filter(organization=acme).exists()


# --- locks and IT admins --------------------------------------------------------


def test_ivan_forces_ocr_off_and_alice_cannot_switch_it_on(ivan, alice, acme, force):
    force(ivan, acme, "ocr", enabled=False, reason="Contract under review")
    assert states(acme)["ocr"] == (False, True)

    with pytest.raises(CapabilityLocked) as refusal:
        set_capability_enabled(alice, acme, "ocr", enabled=True)

    assert refusal.value.code == "capability_locked"
    assert "locked by your platform administrator: Contract under review" in refusal.value.message
    assert states(acme)["ocr"] == (False, True)
    assert [change[1] for change in history(acme, "ocr")] == [False]  # only ivan's


def test_ivan_forces_summaries_on_with_ocr_and_locks_only_summaries(ivan, acme, force):
    result = force(ivan, acme, "summaries", enabled=True, reason="Included in the enterprise plan")

    assert result.changed == {"summaries": True, "ocr": True}
    assert states(acme) == {"summaries": (True, True), "ocr": (True, False), "glossary": (False, False)}
    toggle = FeatureToggle.objects.get(organization=acme, capability_key="summaries")
    assert toggle.locked_reason == "Included in the enterprise plan"
    assert history(acme, "summaries")[0][2:] == (
        "ivan@switchboard.test",
        "Included in the enterprise plan",
        "it_admin",
    )
    assert history(acme, "ocr")[0][4] == "dependency"
    assert [details["capability"] for details in audited(acme, "capability.forced")] == ["summaries", "ocr"]


def test_forcing_locks_even_a_capability_already_in_that_state(alice, ivan, acme, switch, force):
    switch(alice, acme, "glossary", enabled=True)

    result = force(ivan, acme, "glossary", enabled=True, reason="Keep it on")

    assert result.changed == {}  # the state did not change, the lock did
    assert states(acme)["glossary"] == (True, True)
    assert history(acme, "glossary")[0] == (True, True, "ivan@switchboard.test", "Keep it on", "it_admin")


def test_only_it_admins_force_and_always_with_a_reason(alice, ivan, acme):
    with pytest.raises(ActionError) as not_staff:
        force_capability(alice, acme, "ocr", enabled=True, reason="I am the owner")
    assert not_staff.value.code == "it_admin_required"

    with pytest.raises(ActionError) as no_reason:
        force_capability(ivan, acme, "ocr", enabled=True, reason="   ")
    assert no_reason.value.code == "reason_required"

    assert states(acme) == {}


def test_ivan_unlocks_and_alice_can_switch_again(ivan, alice, acme, force, switch):
    force(ivan, acme, "ocr", enabled=False, reason="Contract under review")

    unlock_capability(ivan, acme, "ocr", reason="Contract signed")

    assert states(acme)["ocr"] == (False, False)
    assert FeatureToggle.objects.get(organization=acme, capability_key="ocr").locked_reason == ""
    assert history(acme, "ocr")[0] == (False, False, "ivan@switchboard.test", "Contract signed", "it_admin")
    assert audited(acme, "capability.unlocked") == [{"capability": "ocr", "reason": "Contract signed"}]

    switch(alice, acme, "ocr", enabled=True)
    assert states(acme)["ocr"] == (True, False)


def test_unlocking_needs_an_it_admin_and_a_lock(ivan, alice, acme, force):
    with pytest.raises(ActionError) as not_locked:
        unlock_capability(ivan, acme, "ocr")
    assert not_locked.value.code == "not_locked"

    force(ivan, acme, "ocr", enabled=True, reason="Enterprise plan")
    with pytest.raises(ActionError) as not_staff:
        unlock_capability(alice, acme, "ocr")
    assert not_staff.value.code == "it_admin_required"
    assert states(acme)["ocr"] == (True, True)


def test_a_locked_on_summaries_keeps_ocr_on(ivan, alice, acme, force):
    force(ivan, acme, "summaries", enabled=True, reason="Enterprise plan")

    # Alice is first told what switching ocr off implies...
    with pytest.raises(DependencyConflict):
        set_capability_enabled(alice, acme, "ocr", enabled=False)
    # ...and agreeing to it does not get past the lock on summaries.
    with pytest.raises(CapabilityLocked, match="Summaries is locked on"):
        set_capability_enabled(alice, acme, "ocr", enabled=False, include_related=True)

    assert states(acme) == {"summaries": (True, True), "ocr": (True, False), "glossary": (False, False)}
    assert_dependency_rule(acme)


def test_even_ivan_unlocks_summaries_before_forcing_ocr_off(ivan, acme, force):
    force(ivan, acme, "summaries", enabled=True, reason="Enterprise plan")

    with pytest.raises(CapabilityLocked):
        force_capability(ivan, acme, "ocr", enabled=False, reason="Vendor outage")
    assert_dependency_rule(acme)

    unlock_capability(ivan, acme, "summaries", reason="Plan changed")
    force(ivan, acme, "ocr", enabled=False, reason="Vendor outage")
    assert states(acme) == {"summaries": (False, False), "ocr": (False, True), "glossary": (False, False)}


def test_a_locked_off_ocr_keeps_summaries_off(ivan, alice, acme, force):
    force(ivan, acme, "ocr", enabled=False, reason="Vendor outage")

    with pytest.raises(CapabilityLocked, match="Text recognition is locked off"):
        set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    assert enabled_in(acme) == set()


# --- after commit ---------------------------------------------------------------


def test_the_signal_is_sent_after_commit_with_only_the_changed_capabilities(
    alice, acme, toggled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    assert toggled == []  # nothing announced before commit

    for callback in after_commit:
        callback()
    assert toggled == [
        ("acme", "summaries", True, "alice@acme.test"),
        ("acme", "ocr", True, "alice@acme.test"),
    ]


def test_switching_summaries_off_signals_summaries_alone(alice, acme, switch, toggled):
    switch(alice, acme, "summaries", enabled=True, include_related=True)
    toggled.clear()

    switch(alice, acme, "summaries", enabled=False)

    assert toggled == [("acme", "summaries", False, "alice@acme.test")]


def test_a_refused_change_signals_nothing(alice, acme, toggled, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as after_commit, pytest.raises(DependencyConflict):
        set_capability_enabled(alice, acme, "summaries", enabled=True)
    assert after_commit == []
    assert toggled == []


def test_a_lock_alone_signals_nothing(ivan, alice, acme, switch, force, toggled):
    switch(alice, acme, "glossary", enabled=True)
    toggled.clear()

    force(ivan, acme, "glossary", enabled=True, reason="Keep it on")

    assert toggled == []


# --- the history is append-only -------------------------------------------------


def test_the_history_cannot_be_rewritten_through_the_orm(alice, acme, switch):
    switch(alice, acme, "ocr", enabled=True, reason="Scanning supplier invoices")
    change = ToggleChange.objects.get(organization=acme)

    with pytest.raises(PermissionError):
        ToggleChange.objects.filter(pk=change.pk).update(reason="Never happened")
    with pytest.raises(PermissionError):
        ToggleChange.objects.filter(pk=change.pk).delete()
    change.reason = "Never happened"
    with pytest.raises(PermissionError):
        change.save()
    with pytest.raises(PermissionError):
        change.delete()

    assert history(acme, "ocr") == [
        (False, True, "alice@acme.test", "Scanning supplier invoices", "organization")
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE capabilities_togglechange SET reason = 'Never happened'",
        "DELETE FROM capabilities_togglechange",
    ],
)
def test_the_database_refuses_to_rewrite_the_history(alice, acme, switch, statement):
    switch(alice, acme, "ocr", enabled=True, reason="Scanning supplier invoices")

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)

    assert history(acme, "ocr") == [
        (False, True, "alice@acme.test", "Scanning supplier invoices", "organization")
    ]


def test_plan_change_names_what_would_switch_too(alice, acme, switch):
    assert actions.plan_change(acme, "summaries", True) == ["ocr"]
    assert actions.plan_change(acme, "ocr", False) == []

    switch(alice, acme, "summaries", enabled=True, include_related=True)

    assert actions.plan_change(acme, "summaries", True) == []
    assert actions.plan_change(acme, "ocr", False) == ["summaries"]
