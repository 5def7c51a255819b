"""Periodic housekeeping tasks of the tenancy app, run by Celery beat."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from portal import alerts, idempotency
from portal.actions import invitations

HEARTBEAT_KEY = "portal:worker-heartbeat"


@shared_task
def record_heartbeat() -> str:
    """Leave a timestamp in the shared cache: the health page shows how long ago a
    worker last ran a task, which tells whether beat and a worker are alive."""
    stamp = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, stamp, timeout=None)
    return stamp


@shared_task
def expire_invitations() -> int:
    return invitations.expire_invitations()


@shared_task
def prune_idempotency_keys() -> int:
    """Forget idempotency keys older than 24 hours (hourly)."""
    return idempotency.prune()


@shared_task(acks_late=True)
def deliver_alert(alert_id: int) -> bool:
    """Email a raised alert and post it to its organization's webhook, each
    once (both claim their own field; a second delivery does nothing)."""
    emailed = alerts.deliver(alert_id)
    posted = alerts.deliver_webhook(alert_id)
    return emailed or posted


@shared_task
def deliver_pending_alerts() -> int:
    """Beat's safety net for alerts whose email did not go and webhook calls
    that failed and are due again."""
    return alerts.deliver_pending()
