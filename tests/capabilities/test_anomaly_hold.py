"""Hold on anomaly: an organization that asked for it finds a spiking
capability's new jobs held (not sent, not claimable, not billed) until an
owner releases them; nothing is lost."""

from __future__ import annotations

import pytest

from capabilities import actions, runner
from capabilities.models import Job
from capabilities.sweep import sweep_jobs
from metering import actions as metering_actions
from metering import anomalies
from portal.actions.errors import ActionError
from portal.models import Alert, AuditEntry, Membership, Role
from tests.metering.anomaly_data import plant_spike

pytestmark = pytest.mark.django_db


@pytest.fixture
def ocr_on(alice, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)


def test_owners_and_admins_choose_the_hold_audited(acme, alice, bob, carol):
    assert metering_actions.set_hold_on_anomaly(alice, acme, "ocr", enabled=True)
    assert not metering_actions.set_hold_on_anomaly(alice, acme, "ocr", enabled=True)  # no change
    entry = AuditEntry.objects.get(action="capability.hold_on_anomaly_changed")
    assert entry.details == {"capability": "ocr", "hold_on_anomaly": True}
    for outsider in (bob, carol):  # a member, a billing member
        with pytest.raises(ActionError) as refusal:
            metering_actions.set_hold_on_anomaly(outsider, acme, "ocr", enabled=False)
        assert refusal.value.code == "admin_required"
    with pytest.raises(ActionError) as unknown:
        metering_actions.set_hold_on_anomaly(alice, acme, "no-such-thing", enabled=True)
    assert unknown.value.code == "unknown_capability"


def test_without_the_choice_a_spike_only_alerts(acme, alice, ocr_on):
    plant_spike(acme)
    assert not anomalies.is_held(acme.pk, "ocr")
    job = actions.start_job(alice, acme, "ocr", kind="noop")
    assert job.status == Job.Status.QUEUED


def test_a_spike_holds_new_jobs_until_an_owner_releases_them(
    acme, alice, carol, ocr_on, django_capture_on_commit_callbacks
):
    metering_actions.set_hold_on_anomaly(alice, acme, "ocr", enabled=True)
    before = actions.start_job(alice, acme, "ocr", kind="noop")  # accepted before the spike: runs
    [anomaly] = plant_spike(acme)

    assert anomalies.is_held(acme.pk, "ocr")
    alert = Alert.objects.get()
    assert alert.level == Alert.Level.DANGER and "wait until an owner releases them" in alert.message
    assert AuditEntry.objects.filter(action="capability.held", organization=acme).exists()
    with django_capture_on_commit_callbacks() as published:
        held = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})
    assert held.status == Job.Status.HELD
    assert held.lease_expires_at is None
    assert published == []  # no message for a worker
    assert Job.objects.get(pk=before.pk).status == Job.Status.QUEUED

    # Not claimable, whatever message reaches a worker; the sweep leaves it alone.
    assert runner._run(held.pk) == "skipped"
    sweep_jobs()
    assert Job.objects.get(pk=held.pk).status == Job.Status.HELD

    # A second spike of the same day records nothing new and keeps the first hold.
    assert anomalies.detect([anomaly.day]) == []

    with pytest.raises(ActionError) as refusal:
        actions.release_held_jobs(carol, acme, "ocr")  # billing may see it, not release it
    assert refusal.value.code == "owner_required"

    with django_capture_on_commit_callbacks() as published:
        assert actions.release_held_jobs(alice, acme, "ocr") == 1
    assert len(published) == 1
    released = Job.objects.get(pk=held.pk)
    assert released.status == Job.Status.QUEUED and released.lease_expires_at is not None
    assert not anomalies.is_held(acme.pk, "ocr")
    assert AuditEntry.objects.get(action="capability.released").details == {"capability": "ocr", "jobs": 1}
    assert actions.start_job(alice, acme, "ocr", kind="noop").status == Job.Status.QUEUED
    with pytest.raises(ActionError) as again:
        actions.release_held_jobs(alice, acme, "ocr")
    assert again.value.code == "not_held"


def test_an_admin_cannot_release_but_can_cancel_a_held_job(acme, alice, bob, ocr_on):
    Membership.objects.filter(user=bob).update(role=Role.ADMIN)
    metering_actions.set_hold_on_anomaly(bob, acme, "ocr", enabled=True)
    plant_spike(acme)
    job = actions.start_job(bob, acme, "ocr", kind="noop")

    with pytest.raises(ActionError):
        actions.release_held_jobs(bob, acme, "ocr")
    cancelled = actions.cancel_job(bob, job)

    assert cancelled.status == Job.Status.CANCELLED


def test_a_hold_is_per_organization(acme, globex, alice, gina, ocr_on):
    actions.set_capability_enabled(gina, globex, "ocr", enabled=True)
    metering_actions.set_hold_on_anomaly(alice, acme, "ocr", enabled=True)
    metering_actions.set_hold_on_anomaly(gina, globex, "ocr", enabled=True)
    plant_spike(acme)

    assert actions.start_job(gina, globex, "ocr", kind="noop").status == Job.Status.QUEUED
    with pytest.raises(ActionError):
        actions.release_held_jobs(gina, acme, "ocr")  # gina is not acme's owner
