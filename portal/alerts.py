"""Alerts: what an organization's owners and billing people must hear about
once (a budget threshold crossed, a usage spike). `raise_alert` records one
per organization and key, whatever number of workers raise it at the same
moment: the unique constraint on (organization, key) decides, and the caller
that inserted the row is the one that schedules its delivery. Each raised
alert is an entry in the organization's activity and an email to its owners
and billing members; `open_alerts` is what the banner on their pages shows.

Platform alerts are free: they are not the Notifications capability (which an
organization switches on and pays for)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from portal.audit import record_audit
from portal.models import Alert, Membership, Organization, Role

logger = logging.getLogger(__name__)

# The roles an alert goes to: the people who pay and those who can act.
ALERTED_ROLES = frozenset({Role.OWNER, Role.BILLING})
# How long an alert stays in the banner of its organization's pages.
BANNER_DAYS = 7


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
        # deliver_pending (beat) sends its email later.
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


def deliver_pending(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Deliver alerts whose email has not gone (the broker was away, or the
    mail server refused): beat's safety net. Returns how many were sent."""
    due = Alert.objects.filter(emailed_at__isnull=True, raised_at__lt=timezone.now() - older_than)
    return sum(deliver(alert_id) for alert_id in due.values_list("pk", flat=True)[:200])


def open_alerts(organization: Organization) -> QuerySet[Alert]:
    """The organization's alerts of the last BANNER_DAYS days, newest first."""
    since = timezone.now() - timedelta(days=BANNER_DAYS)
    return Alert.objects.filter(organization=organization, raised_at__gte=since)
