"""Issue 20: a delivery, its first attempt's job and the action's audit entry
are written by one statement (`capabilities.actions.start_job_with_row`), which
commits on its own outside a transaction and keeps every rule of `start_job`:
a held capability holds the job, a rule that already notified writes nothing."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from capabilities.actions import CapabilityDisabled, start_job
from capabilities.models import Job
from capabilities.notifications import actions
from capabilities.notifications.models import Delivery, Rule
from metering.models import AnomalyHold
from portal.models import AuditEntry
from tests.capabilities.notifications.conftest import switch_off


def _rule(alice, acme) -> Rule:
    return actions.create_rule(
        alice, acme, capability="ocr", event="both", channel="webhook", target="http://127.0.0.1:9/hook"
    )


@pytest.mark.django_db(transaction=True)
def test_a_test_send_is_one_statement_that_commits_on_its_own(
    alice, acme_on, django_assert_num_queries, monkeypatch
):
    rule = _rule(alice, acme_on)
    sent: list[tuple] = []
    monkeypatch.setattr("capabilities.actions.publish_job", lambda *args: sent.append(args))
    actions.send_test(alice, rule)  # the first warms this process's snapshots

    with django_assert_num_queries(1):
        delivery = actions.send_test(alice, rule)

    assert not transaction.get_connection().in_atomic_block
    stored = Delivery.objects.get(pk=delivery.pk)
    assert (stored.rule_id, stored.event, stored.status, stored.payload["event"]) == (
        rule.pk,
        "test",
        Delivery.Status.PENDING,
        "test",
    )
    job = Job.objects.get(capability="notifications", input__delivery=delivery.pk)
    assert job.input == {"delivery": delivery.pk, "attempt": 1}
    assert (job.status, job.kind, job.requested_by, job.source) == (
        Job.Status.QUEUED,
        "deliver",
        alice,
        Job.Source.PERSON,
    )
    assert sent[-1] == (job.pk, "cap.notifications", job.celery_task_id)
    entries = AuditEntry.objects.filter(action="notifications.test_sent", organization=acme_on)
    assert entries.count() == 2
    assert entries.filter(actor=alice, target_type="rule", target_id=str(rule.pk)).count() == 2


@pytest.mark.django_db
def test_a_delivery_of_a_held_capability_waits_unsent(alice, acme_on, monkeypatch):
    rule = _rule(alice, acme_on)
    AnomalyHold.objects.create(
        organization=acme_on, capability="notifications", hold_on_anomaly=True, held_since=timezone.now()
    )
    sent: list[tuple] = []
    monkeypatch.setattr("capabilities.actions.publish_job", lambda *args: sent.append(args))
    delivery = actions.send_test(alice, rule)
    job = Job.objects.get(capability="notifications", input__delivery=delivery.pk)
    assert (job.status, job.lease_expires_at) == (Job.Status.HELD, None)
    assert sent == []


@pytest.mark.django_db
def test_a_rule_that_already_notified_writes_nothing_and_leaves_the_transaction_usable(
    alice, acme_on, monkeypatch
):
    """Inside a caller's transaction (this test's) the statement runs in a
    savepoint: the unique delivery per rule and job refuses the second, and
    the transaction goes on."""
    monkeypatch.setattr("capabilities.actions.publish_job", lambda *args: True)
    rule = _rule(alice, acme_on)
    ocr = start_job(alice, acme_on, "ocr", kind="recognize", job_input={"pages": 1})
    Job.objects.filter(pk=ocr.pk).update(status=Job.Status.SUCCEEDED)
    notify = {"job_id": ocr.pk, "organization_id": acme_on.pk, "capability": "ocr", "status": "succeeded"}

    [first] = actions.notify_job_finished(**notify)
    assert actions.notify_job_finished(**notify) == []

    assert list(Delivery.objects.filter(rule=rule).values_list("pk", flat=True)) == [first.pk]
    assert Job.objects.filter(capability="notifications").count() == 1
    assert first.source_job_id == ocr.pk
    job = Job.objects.get(capability="notifications")
    assert (job.input, job.source, job.requested_by) == (
        {"delivery": first.pk, "attempt": 1},
        Job.Source.AUTOMATIC,
        None,
    )


@pytest.mark.django_db
def test_a_send_the_job_may_not_start_writes_nothing(alice, acme_on):
    """The job's checks run before the statement: refused, there is no
    delivery, no job and no audit entry (nothing to roll back)."""
    rule = _rule(alice, acme_on)
    switch_off(alice, acme_on, "notifications")
    with pytest.raises(CapabilityDisabled):
        actions.send_test(alice, rule)
    assert not Delivery.objects.exists()
    assert not Job.objects.filter(capability="notifications").exists()
    assert not AuditEntry.objects.filter(action="notifications.test_sent").exists()
