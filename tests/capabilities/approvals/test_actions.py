"""Asking for a capability, and deciding: the member's request, the cost
limit's and the IT admin's four eyes, expiry, and approvals that can't be
carried out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from capabilities import actions as toggle_actions
from capabilities.approvals import actions
from capabilities.approvals.models import CapabilityRequest
from capabilities.models import ToggleChange
from portal.actions.errors import ActionError
from portal.models import AuditEntry
from tests.capabilities.state import enabled_in
from tests.metering.usage_data import NOW, record


def audit_actions(organization) -> list[str]:
    return list(
        AuditEntry.objects.filter(organization=organization, action__startswith="capability_request")
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_bob_asks_for_the_glossary_alice_approves_with_a_note_and_bob_is_told(
    ask, approve, acme, alice, bob, carol, dan
):
    request = ask(bob, acme, "glossary", reason="Our terms keep drifting")

    assert request.status == "pending" and request.why == "member"
    # Owners and admins are told; not bob, not carol (billing).
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["alice@acme.test", "dan@acme.test"]
    assert "Bob Baker asks to switch on Glossary" in mail.outbox[0].subject
    assert "Our terms keep drifting" in mail.outbox[0].body

    approve(alice, request, note="Go ahead, keep it tidy")

    request.refresh_from_db()
    assert (
        request.status == "approved"
        and request.decided_by == alice
        and request.note == "Go ahead, keep it tidy"
    )
    assert enabled_in(acme) == {"glossary"}
    change = ToggleChange.objects.get(organization=acme, capability_key="glossary")
    assert change.actor == alice
    assert (
        change.reason == "Asked by bob@acme.test: Our terms keep drifting — approved: Go ahead, keep it tidy"
    )
    assert mail.outbox[-1].to == ["bob@acme.test"]
    assert "was approved" in mail.outbox[-1].subject
    assert "Their note: Go ahead, keep it tidy" in mail.outbox[-1].body
    assert audit_actions(acme) == ["capability_request.created", "capability_request.approved"]


def test_approving_switches_on_what_the_capability_needs_too(ask, approve, acme, alice, bob):
    approve(alice, ask(bob, acme, "summaries"))

    assert enabled_in(acme) == {"summaries", "ocr"}


def test_declining_changes_nothing_and_tells_bob_why(ask, decline, acme, alice, bob):
    request = ask(bob, acme, "ocr")

    decline(alice, request, note="Not this quarter")

    request.refresh_from_db()
    assert request.status == "declined" and request.note == "Not this quarter"
    assert enabled_in(acme) == set()
    assert "was declined" in mail.outbox[-1].subject and "Not this quarter" in mail.outbox[-1].body


@pytest.mark.parametrize(
    ("key", "reason", "code"),
    [
        ("teleport", "please", "unknown_capability"),
        ("glossary", "   ", "reason_required"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(ask, acme, bob, key, reason, code):
    with pytest.raises(ActionError) as refused:
        ask(bob, acme, key, reason=reason)
    assert refused.value.code == code
    assert not CapabilityRequest.objects.exists()


def test_a_second_request_for_the_same_switch_is_refused(ask, acme, bob, carol):
    ask(bob, acme, "glossary")
    with pytest.raises(ActionError, match="already asked for") as refused:
        ask(carol, acme, "glossary")
    assert refused.value.code == "already_requested"


def test_asking_for_what_is_on_or_locked_is_refused(ask, switch, force, acme, alice, bob, ivan):
    switch(alice, acme, "glossary")
    with pytest.raises(ActionError, match="already on"):
        ask(bob, acme, "glossary")
    force(ivan, acme, "ocr", enabled=False, reason="Contract ended")
    with pytest.raises(ActionError, match="locked by your platform administrator: Contract ended") as refused:
        ask(bob, acme, "ocr")
    assert refused.value.code == "capability_locked"


def test_an_owner_without_a_policy_switches_herself(ask, acme, alice):
    with pytest.raises(ActionError) as refused:
        ask(alice, acme, "ocr")
    assert refused.value.code == "no_approval_needed"


def test_only_owners_and_admins_decide(ask, approve, acme, bob, carol):
    request = ask(bob, acme, "glossary")
    with pytest.raises(ActionError) as refused:
        approve(carol, request)
    assert refused.value.code == "manager_required"


def test_approving_twice_or_after_declining_is_refused(ask, approve, decline, acme, alice, bob, dan):
    request = ask(bob, acme, "glossary")
    approve(alice, request)
    with pytest.raises(ActionError, match="approved already") as twice:
        approve(dan, request)
    assert twice.value.code == "already_decided"

    other = ask(bob, acme, "ocr")
    decline(alice, other)
    with pytest.raises(ActionError) as late:
        approve(dan, other)
    assert late.value.code == "already_decided"
    assert enabled_in(acme) == {"glossary"}


def test_an_approval_that_cant_be_carried_out_fails_and_the_request_waits(
    ask, approve, force, acme, alice, bob, ivan
):
    request = ask(bob, acme, "summaries")
    force(ivan, acme, "ocr", enabled=False, reason="Contract ended")

    with pytest.raises(ActionError, match="can't be carried out, so it stays pending") as refused:
        approve(alice, request)

    assert refused.value.code == "capability_locked"
    request.refresh_from_db()
    assert request.status == "pending" and request.decided_by is None
    assert enabled_in(acme) == set()
    failed = AuditEntry.objects.get(organization=acme, action="capability_request.approval_failed")
    assert "locked" in failed.details["reason"]


# --- expiry ----------------------------------------------------------------------


def test_a_request_expires_and_can_no_longer_be_approved(ask, approve, clock, acme, alice, bob, settings):
    settings.CAPABILITY_REQUEST_TTL = timedelta(days=7)
    request = ask(bob, acme, "glossary")
    assert request.expires_at == NOW + timedelta(days=7)

    clock(NOW + timedelta(days=7, seconds=1))
    with pytest.raises(ActionError, match="expired") as refused:
        approve(alice, request)
    assert refused.value.code == "request_expired"

    assert actions.expire_requests() == 1
    assert actions.expire_requests() == 0  # once
    request.refresh_from_db()
    assert request.status == "expired"
    assert AuditEntry.objects.filter(organization=acme, action="capability_request.expired").count() == 1
    assert enabled_in(acme) == set()


def test_the_beat_task_expires_only_what_is_past_its_time(
    ask, clock, acme, bob, carol, django_capture_on_commit_callbacks
):
    from capabilities.approvals.tasks import expire_requests

    old = ask(bob, acme, "glossary")
    clock(NOW + timedelta(days=3))
    fresh = ask(carol, acme, "ocr")
    clock(NOW + timedelta(days=7, minutes=1))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_requests() == 1

    assert CapabilityRequest.objects.get(pk=old.pk).status == "expired"
    assert CapabilityRequest.objects.get(pk=fresh.pk).status == "pending"
    assert mail.outbox[0].to == ["bob@acme.test"] and "expired" in mail.outbox[0].subject


# --- the cost limit: four eyes on expensive switch-ons ---------------------------------


def test_over_the_limit_even_alices_switch_on_is_a_request_dan_approves(
    cost_limit, ask, approve, switch, clock, acme, alice, dan
):
    record(acme, 1240, at=NOW - timedelta(days=3))  # ocr: about $12.40 a month
    cost_limit(alice, acme, "10")

    with pytest.raises(toggle_actions.ApprovalRequired) as held:
        switch(alice, acme, "ocr")
    assert (
        "estimated at about $12.40 a month, above Acme Corp's approval limit of $10.00" in held.value.message
    )
    assert held.value.code == "approval_required"
    assert enabled_in(acme) == set()

    request = ask(alice, acme, "ocr", reason="Scanning the archive")
    assert request.why == "cost_limit" and str(request.estimate) == "12.40"

    with pytest.raises(ActionError, match="can't decide on your own request") as own:
        approve(alice, request)
    assert own.value.code == "own_request"

    approve(dan, request, note="Fine for one month")
    assert enabled_in(acme) == {"ocr"}


def test_under_the_limit_or_free_she_switches_at_once(cost_limit, switch, clock, acme, alice):
    record(acme, 1240, at=NOW - timedelta(days=3))
    cost_limit(alice, acme, "20")

    switch(alice, acme, "ocr")
    switch(alice, acme, "glossary")  # free: never held by the limit

    assert enabled_in(acme) == {"ocr", "glossary"}


def test_no_estimate_counts_as_above_the_limit(cost_limit, switch, clock, acme, alice):
    cost_limit(alice, acme, "1000")

    with pytest.raises(toggle_actions.ApprovalRequired, match="no cost estimate yet for Text recognition"):
        switch(alice, acme, "ocr")


def test_what_comes_along_counts_toward_the_limit(cost_limit, switch, clock, acme, alice):
    cost_limit(alice, acme, "1000")

    with pytest.raises(
        toggle_actions.ApprovalRequired, match="no cost estimate yet for Summaries, Text recognition"
    ):
        switch(alice, acme, "summaries", include_related=True)


def test_clearing_the_limit_lets_owners_switch_again(cost_limit, switch, clock, acme, alice):
    cost_limit(alice, acme, "5")
    cost_limit(alice, acme, None)

    switch(alice, acme, "ocr")
    assert enabled_in(acme) == {"ocr"}
    assert AuditEntry.objects.filter(organization=acme, action="approval_policy.cost_limit").count() == 2


def test_only_owners_and_admins_set_the_limit(acme, bob):
    with pytest.raises(ActionError) as refused:
        actions.set_cost_limit(bob, acme, limit=None)
    assert refused.value.code == "manager_required"


# --- the IT admin's rule: every switch-on --------------------------------------------


def test_ivan_requires_approval_for_every_switch_on_in_acme(
    tenant_rule, switch, ask, approve, acme, alice, dan, ivan, globex, gina
):
    tenant_rule(ivan, acme, reason="Audit season")

    with pytest.raises(
        toggle_actions.ApprovalRequired,
        match="requires approval for every switch-on in Acme Corp: “Audit season”",
    ):
        switch(alice, acme, "glossary")
    switch(gina, globex, "glossary")  # another tenant is not affected

    approve(dan, ask(alice, acme, "glossary", reason="Terms"))
    assert enabled_in(acme) == {"glossary"}

    # Switching off is never held; lifting the rule lets owners switch on again.
    tenant_rule(ivan, acme, required=False)
    switch(alice, acme, "ocr")
    assert enabled_in(acme) == {"glossary", "ocr"}


def test_the_rule_needs_an_it_admin_and_a_reason(acme, alice, ivan):
    with pytest.raises(ActionError) as not_staff:
        actions.require_approval_for_every_switch_on(alice, acme, required=True, reason="x")
    assert not_staff.value.code == "it_admin_required"
    with pytest.raises(ActionError) as no_reason:
        actions.require_approval_for_every_switch_on(ivan, acme, required=True, reason=" ")
    assert no_reason.value.code == "reason_required"
