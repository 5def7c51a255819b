"""Alerts: what an organization's owners and billing people must hear about
once (a budget threshold crossed, a usage spike). `raise_alert` records one
per organization and key, whatever number of workers raise it at the same
moment: the unique constraint on (organization, key) decides, and the caller
that inserted the row is the one that schedules its delivery. Each raised
alert is an entry in the organization's activity and an email to its owners
and billing members, and a signed POST to the organization's alerts webhook
when it has one; `banner_alerts` is what the banner on their pages shows.

Platform alerts are free: they are not the Notifications capability (which an
organization switches on and pays for)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from portal import webhooks
from portal.audit import record_audit
from portal.models import Alert, AlertDismissal, AlertWebhook, Membership, Organization, Role, User
from portal.outbound import Limits

logger = logging.getLogger(__name__)

# The roles an alert goes to: the people who pay and those who can act.
ALERTED_ROLES = frozenset({Role.OWNER, Role.BILLING})
# How long an alert stays in the banner of its organization's pages.
BANNER_DAYS = 7
# The most alerts the banner lists at once (the newest).
BANNER_LIMIT = 5
# What beat waits before it sends what the task queued at raise time has not
# (so that the two do not race for a fresh alert).
SAFETY_NET_DELAY = timedelta(minutes=1)
# How long an attempt at the webhook holds its claim: far longer than its
# timeouts, so that a second process never posts while the first still may;
# if the worker dies, beat tries again once the lease is over.
WEBHOOK_LEASE = timedelta(minutes=5)
WEBHOOK_EVENT = "alert.raised"
WEBHOOK_REMOVED = "The alerts webhook was removed before it was sent."


def raise_alert(
    organization: Organization,
    *,
    key: str,
    kind: str,
    title: str,
    message: str,
    level: str = Alert.Level.WARNING,
    url: str = "",
    data: dict[str, Any] | None = None,
) -> Alert | None:
    """Record the alert `key` of `organization` and deliver it after the
    caller's transaction commits; None when it was already raised (by this or
    any other process), so that it is delivered once. Call it inside the
    transaction of what caused it: if that rolls back, so does the alert."""
    if url and not url.startswith("/"):
        raise ValueError(f"An alert's url is a path in the portal, not {url!r}")
    now = timezone.now()
    has_webhook = AlertWebhook.objects.filter(organization=organization).exists()
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                organization=organization,
                key=key,
                kind=kind,
                level=level,
                title=title,
                message=message,
                url=url,
                data=data or {},
                raised_at=now,
                webhook_due_at=now + SAFETY_NET_DELAY if has_webhook else None,
            )
    except IntegrityError:
        return None
    record_audit(
        None,
        "alert.raised",
        organization=organization,
        target=alert,
        details={"kind": kind, "key": key, "title": title},
        actor_email="Switchboard",
    )
    transaction.on_commit(lambda: _schedule_delivery(alert.pk))
    return alert


def _schedule_delivery(alert_id: int) -> None:
    from portal.tasks import deliver_alert

    try:
        deliver_alert.delay(alert_id)
    except Exception:
        # The broker is away: the alert is recorded and shown in the banner;
        # deliver_pending (beat) sends its email and webhook later.
        logger.warning("Could not queue alert %s; beat delivers it later", alert_id, exc_info=True)


def recipients(organization: Organization) -> list[str]:
    """The addresses of the organization's owners and billing members."""
    return sorted(
        Membership.objects.filter(organization=organization, role__in=ALERTED_ROLES, user__is_active=True)
        .values_list("user__email", flat=True)
        .distinct()
    )


def deliver(alert_id: int) -> bool:
    """Email the alert to its organization's owners and billing members, once:
    the row is claimed (emailed_at set) before the email goes, so that two
    deliveries of the same task send one email; if sending fails the claim is
    released for beat's next pass. True when this call sent it."""
    now = timezone.now()
    claimed = Alert.objects.filter(pk=alert_id, emailed_at__isnull=True).update(emailed_at=now)
    if not claimed:
        return False
    alert = Alert.objects.select_related("organization").get(pk=alert_id)
    to = recipients(alert.organization)
    link = f"{settings.PORTAL_URL}{alert.url}" if alert.url else settings.PORTAL_URL
    try:
        if to:
            send_mail(
                subject=f"[{alert.organization.name}] {alert.title}",
                message=render_to_string("portal/email/alert.txt", {"alert": alert, "link": link}),
                from_email=None,
                recipient_list=to,
            )
    except Exception:
        logger.exception("Could not email alert %s; beat tries again", alert_id)
        Alert.objects.filter(pk=alert_id, emailed_at=now).update(emailed_at=None)
        return False
    Alert.objects.filter(pk=alert_id).update(emailed_to=to)
    return True


def deliver_pending(*, older_than: timedelta = SAFETY_NET_DELAY) -> int:
    """Deliver alerts whose email has not gone (the broker was away, or the
    mail server refused) and webhook calls that are due (first attempts the
    task did not make, retries after a failure): beat's safety net. Returns
    how many emails and calls went out."""
    now = timezone.now()
    due = Alert.objects.filter(emailed_at__isnull=True, raised_at__lt=now - older_than)
    sent = sum(deliver(alert_id) for alert_id in due.values_list("pk", flat=True)[:200])
    calls = Alert.objects.filter(webhook_sent_at__isnull=True, webhook_due_at__lte=now)
    return sent + sum(deliver_webhook(alert_id) for alert_id in calls.values_list("pk", flat=True)[:200])


def webhook_limits() -> Limits:
    return Limits(
        connect_timeout=settings.ALERT_WEBHOOK_CONNECT_TIMEOUT,
        read_timeout=settings.ALERT_WEBHOOK_READ_TIMEOUT,
        allow_private=settings.ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS,
    )


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The JSON body of an alert's webhook call (documented in docs/tenancy.md)."""
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "level": alert.level,
        "title": alert.title,
        "message": alert.message,
        "url": f"{settings.PORTAL_URL}{alert.url}" if alert.url else "",
        "data": alert.data,
        "organization": alert.organization.slug,
        "raised_at": alert.raised_at.isoformat(),
    }


def _claim_webhook(alert_id: int) -> bool:
    """Take the next attempt at an alert's webhook, or False when it is not
    this call's to make: already delivered, given up, not due yet, or held by
    another attempt's lease. The first attempt (the task queued at raise
    time) need not wait for its due time, which is beat's."""
    now = timezone.now()
    due = Q(webhook_due_at__lte=now) | Q(webhook_attempts=0, webhook_due_at__isnull=False)
    return bool(
        Alert.objects.filter(due, pk=alert_id, webhook_sent_at__isnull=True).update(
            webhook_due_at=now + WEBHOOK_LEASE,
            webhook_attempts=F("webhook_attempts") + 1,
            webhook_last_attempt_at=now,
        )
    )


def _retry_at(attempts: int) -> datetime | None:
    """When to try again after `attempts` failed attempts; None: give up."""
    delays = settings.ALERT_WEBHOOK_RETRY_DELAYS
    if attempts > len(delays):
        return None
    return timezone.now() + timedelta(seconds=delays[attempts - 1])


def deliver_webhook(alert_id: int) -> bool:
    """POST the alert, signed, to its organization's alerts webhook: one
    attempt under a claim (so the same alert is never posted twice, nor again
    after a success); a failure is tried again by beat after the next of
    ALERT_WEBHOOK_RETRY_DELAYS, a refused address is not. True when this call
    delivered it."""
    if not _claim_webhook(alert_id):
        return False
    alert = Alert.objects.select_related("organization").get(pk=alert_id)
    webhook = AlertWebhook.objects.filter(organization_id=alert.organization_id).first()
    pending = Alert.objects.filter(pk=alert_id, webhook_sent_at__isnull=True)
    if webhook is None:
        pending.update(webhook_due_at=None, webhook_last_error=WEBHOOK_REMOVED)
        return False
    outcome = webhooks.post_webhook(
        webhook.url,
        webhook.secret,
        webhook_payload(alert),
        delivery_id=f"alert-{alert.pk}",
        event=WEBHOOK_EVENT,
        limits=webhook_limits(),
    )
    if outcome.delivered:
        pending.update(
            webhook_sent_at=timezone.now(),
            webhook_due_at=None,
            webhook_status_code=outcome.status_code,
            webhook_last_error="",
        )
        return True
    logger.warning("Alert %s: webhook of %s failed: %s", alert_id, alert.organization.slug, outcome.error)
    pending.update(
        webhook_due_at=_retry_at(alert.webhook_attempts) if outcome.retryable else None,
        webhook_status_code=outcome.status_code,
        webhook_last_error=outcome.error[:500],
    )
    return False


def last_webhook_call(organization: Organization) -> Alert | None:
    """The organization's alert whose webhook was tried last (for its settings page)."""
    return (
        Alert.objects.filter(organization=organization, webhook_last_attempt_at__isnull=False)
        .order_by("-webhook_last_attempt_at", "-id")
        .first()
    )


def open_alerts(organization: Organization) -> QuerySet[Alert]:
    """The organization's alerts of the last BANNER_DAYS days, newest first."""
    since = timezone.now() - timedelta(days=BANNER_DAYS)
    return Alert.objects.filter(organization=organization, raised_at__gte=since)


def banner_alerts(organization: Organization, user: User) -> QuerySet[Alert]:
    """What the banner shows `user`: the open alerts they have not dismissed,
    newest first, at most BANNER_LIMIT, in one query (the index on
    organization and raised_at finds them; none is the usual answer)."""
    dismissed = AlertDismissal.objects.filter(alert=OuterRef("pk"), user=user)
    return (
        open_alerts(organization)
        .filter(~Exists(dismissed))
        .only("pk", "level", "title", "message", "url", "raised_at")[:BANNER_LIMIT]
    )
