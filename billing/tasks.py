"""Billing's Celery tasks: periodic ones run by beat (see CELERY_BEAT_SCHEDULE)
and the ones queued by people (a reconciliation from the finance page) or by a
capability being switched on or off."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from billing import actions, push, reconcile, sync
from billing import stripe_gateway as gateway
from metering.periods import billing_period
from portal.models import Organization

logger = logging.getLogger(__name__)


@shared_task(name="billing.push_usage")
def push_usage() -> dict[str, object]:
    """Plan the closed windows, then send what is pending (the backlog drains
    here once Stripe is back)."""
    planned = push.plan()
    sent = push.send()
    return {"planned": planned.created, "sent": sent.sent, "deferred": sent.deferred, "stopped": sent.stopped}


@shared_task(name="billing.sync", autoretry_for=(gateway.Unavailable,), retry_backoff=60, max_retries=8)
def sync_all() -> dict[str, object]:
    if not gateway.configured():
        return {"skipped": "Stripe is not configured"}
    report = sync.sync_all()
    return {"items_added": report.items_added, "items_removed": report.items_removed, "errors": report.errors}


@shared_task(
    name="billing.sync_organization", autoretry_for=(gateway.Unavailable,), retry_backoff=30, max_retries=8
)
def sync_organization(organization_id: int) -> str:
    """Queued when one of the organization's capabilities is switched on or off."""
    if not gateway.configured():
        return "Stripe is not configured"
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return "no such organization"
    sync.sync_prices()
    report = sync.sync_organization(organization)
    return f"added {report.items_added}, removed {report.items_removed}"


@shared_task(name="billing.run_reconciliation")
def run_reconciliation(run_id: int) -> str:
    return reconcile.run(run_id).status


@shared_task(name="billing.resend_waiting_reconciliations")
def resend_waiting_reconciliations() -> list[int]:
    """Beat, every JOB_SWEEP_INTERVAL: send again the runs finance asked for
    whose message was lost, so none stays "queued" for ever."""
    waiting = reconcile.waiting_runs()
    for run_id in waiting:
        logger.warning("Reconciliation run %s is still queued; sending its message again", run_id)
        run_reconciliation.delay(run_id)
    return waiting


@shared_task(name="billing.reconcile_daily")
def reconcile_daily() -> list[int]:
    """Reconcile the current period; in the first days of a month also the one
    that just closed (its last day settles after midnight)."""
    reconcile.fail_stale_runs()
    if not gateway.configured():
        return []
    now = timezone.now()
    periods = [billing_period(now).start]
    if now.day <= 2:
        periods.insert(0, billing_period(periods[0] - reconcile.DAY).start)
    return [
        reconcile.run(actions.start_reconciliation(None, start, schedule=False).pk).pk for start in periods
    ]


@shared_task(name="billing.enforce_grace")
def enforce_grace() -> list[int]:
    return actions.enforce_grace()
