"""Billing's actions: each writes its audit entry, the durable ones refuse to
run inside another transaction, and the pages, the beat's tasks and the
webhook engine go through them."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from billing import actions, tasks, webhooks
from billing.models import ReconciliationRun
from billing.tasks import run_reconciliation
from metering.periods import billing_period
from portal.models import AuditEntry
from tests.billing.test_webhooks import invoice_event

pytestmark = pytest.mark.django_db

NESTED = "A durable atomic block cannot be nested within another atomic block"


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


# --- a price change ------------------------------------------------------------------------


def test_a_price_change_is_audited_with_its_origin(client_for, fiona):
    response = client_for(fiona).post(
        "/finance/prices/",
        {
            "meter": "ocr.pages",
            "unit_price": "0.0125",
            "effective_from": billing_period(timezone.now()).end.isoformat(),
            "note": "Cost of OCR engines went up",
        },
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    [entry] = entries("billing.price_changed")
    assert (entry.actor, entry.ip_address) == (fiona, "203.0.113.7")
    assert entry.details["unit_price"] == "0.0125" and entry.details["version"] == 2


def test_a_price_change_is_durable(fiona):
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        actions.change_price(fiona, "ocr", "pages", Decimal("0.02"), note="nested")


# --- a reconciliation started ----------------------------------------------------------------


def test_finance_starting_a_run_goes_through_the_action(
    stripe, client_for, fiona, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(run_reconciliation, "delay", queued.append)
    period = billing_period(timezone.now()).start
    with django_capture_on_commit_callbacks(execute=True):
        client_for(fiona).post(
            "/finance/reconciliations/", {"period": period.isoformat()}, REMOTE_ADDR="203.0.113.8"
        )
    run = ReconciliationRun.objects.get()
    [entry] = entries("billing.reconciliation_started")
    assert (entry.actor, entry.ip_address, entry.target_id) == (fiona, "203.0.113.8", str(run.pk))
    assert entry.details["period_start"] == period.isoformat()
    assert queued == [run.pk]


def test_starting_a_run_is_durable_and_schedules_only_on_commit(
    fiona, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(run_reconciliation, "delay", queued.append)
    period = billing_period(timezone.now()).start
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        actions.start_reconciliation(fiona, period)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = actions.start_reconciliation(fiona, period)
    assert queued == [] and len(callbacks) == 1
    callbacks[0]()
    assert queued == [run.pk]


def test_the_daily_beat_audits_its_runs_as_the_system(
    stripe, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(run_reconciliation, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        runs = tasks.reconcile_daily()
    audited = entries("billing.reconciliation_started")
    assert [entry.target_id for entry in audited] == [str(run_id) for run_id in runs]
    assert all(entry.actor is None for entry in audited)
    assert queued == []  # the beat carries its runs out itself, in the same task


# --- payments and the restriction for an overdue invoice -------------------------------------


def test_the_webhook_records_failure_restriction_payment_and_lift_through_actions(
    account, acme, django_capture_on_commit_callbacks
):
    now = int(time.time())
    failed = invoice_event(
        "evt_fail", "invoice.payment_failed", account.stripe_customer_id, status="open", created=now
    )
    webhooks.process(failed)
    [failure] = entries("billing.payment_failed")
    assert (failure.actor, failure.organization, failure.details["invoice"]) == (None, acme, "in_test_1")

    assert actions.enforce_grace(now=timezone.now() + timedelta(days=8)) == [acme.pk]
    [restricted] = entries("billing.restricted")
    assert (restricted.actor, restricted.organization) == (None, acme)
    assert restricted.details["capabilities"] == ["ocr"]

    paid = invoice_event(
        "evt_paid", "invoice.paid", account.stripe_customer_id, status="paid", created=now + 5
    )
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.process(paid)
    [received] = entries("billing.payment_received")
    [lifted] = entries("billing.restriction_lifted")
    assert (received.actor, received.organization) == (None, acme)
    assert (lifted.actor, lifted.details["capabilities"]) == (None, ["ocr"])


def test_payment_actions_join_the_webhooks_transaction(account):
    """They are applied with the stored event, in its transaction: not durable."""
    with transaction.atomic():
        actions.record_payment_failed(account, "in_test_1", timezone.now())
        actions.record_payment_received(account, "in_test_1")
    assert [
        entry.action for entry in AuditEntry.objects.order_by("id") if entry.action.startswith("billing.")
    ] == [
        "billing.payment_failed",
        "billing.payment_received",
    ]


def test_restricting_and_lifting_are_durable(account):
    actions.record_payment_failed(account, "in_test_1", timezone.now())
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        actions.restrict_for_overdue_invoice(account.pk)
    with pytest.raises(RuntimeError, match=NESTED), transaction.atomic():
        actions.lift_restriction(account.pk)
