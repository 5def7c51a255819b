"""The degraded rule, in one place: a capability whose jobs fail at
CAPABILITY_DEGRADED_FAILURE_PERCENT or more of at least
CAPABILITY_DEGRADED_MIN_JOBS jobs finished (succeeded or failed; refused and
cancelled ones are nobody's fault) in the last CAPABILITY_DEGRADED_WINDOW
seconds is degraded, across all organizations. Beat assesses every
capability every minute: an episode starts (audit entry, one email to the IT
admins) when the rule first holds, and ends (audit entry) when it no longer
does. Failed jobs are never billed (the runner records usage only with a
success), so a degraded capability costs its customers nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from capabilities.models import CapabilityHealth, Job
from capabilities.registry import registry
from portal.audit import record_audit
from portal.models import User

logger = logging.getLogger(__name__)


def window() -> timedelta:
    return timedelta(seconds=settings.CAPABILITY_DEGRADED_WINDOW)


def is_degraded(failed: int, finished: int) -> bool:
    """The rule on one capability's window (integers: no rounding at the edge)."""
    return (
        finished >= settings.CAPABILITY_DEGRADED_MIN_JOBS
        and failed * 100 >= settings.CAPABILITY_DEGRADED_FAILURE_PERCENT * finished
    )


def failure_counts(now: datetime) -> dict[str, tuple[int, int]]:
    """(failed, finished) per capability over the window: the rule's set-based
    half, one grouped query on the finished-jobs index."""
    rows = (
        Job.objects.filter(
            finished_at__gte=now - window(), status__in=[Job.Status.SUCCEEDED, Job.Status.FAILED]
        )
        .values("capability")
        .annotate(failed=Count("id", filter=Q(status=Job.Status.FAILED)), finished=Count("id"))
        .order_by()
    )
    return {row["capability"]: (row["failed"], row["finished"]) for row in rows}


def rule_in_words() -> str:
    minutes = settings.CAPABILITY_DEGRADED_WINDOW / 60
    return (
        f"{settings.CAPABILITY_DEGRADED_FAILURE_PERCENT}% or more of at least"
        f" {settings.CAPABILITY_DEGRADED_MIN_JOBS} jobs failed in the last {minutes:g} minutes"
    )


@dataclass
class Assessment:
    degraded: list[str] = field(default_factory=list)  # episodes started by this call
    recovered: list[str] = field(default_factory=list)  # episodes ended by this call
    alerted: list[str] = field(default_factory=list)  # emails sent by this call


def assess_capabilities(now: datetime | None = None) -> Assessment:
    """Start and end degraded episodes by the rule, then alert the IT admins
    of every episode not alerted yet (the retry of an email that failed)."""
    now = now or timezone.now()
    counts = failure_counts(now)
    rows = {row.capability_key: row for row in CapabilityHealth.objects.all()}
    assessment = Assessment()
    for capability in registry():
        failed, finished = counts.get(capability.key, (0, 0))
        row = rows.get(capability.key)
        if is_degraded(failed, finished):
            if row is None or row.degraded_since is None:
                if start_episode(capability.key, failed, finished, now):
                    assessment.degraded.append(capability.key)
            else:
                CapabilityHealth.objects.filter(pk=row.pk).update(
                    failed=failed, finished=finished, assessed_at=now
                )
        elif (
            row is not None
            and row.degraded_since is not None
            and end_episode(capability.key, failed, finished, now)
        ):
            assessment.recovered.append(capability.key)
    unalerted = CapabilityHealth.objects.filter(degraded_since__isnull=False, alerted_at__isnull=True)
    for key in unalerted.values_list("capability_key", flat=True):
        if alert_it_admins(key):
            assessment.alerted.append(key)
    return assessment


def start_episode(key: str, failed: int, finished: int, now: datetime) -> bool:
    """Mark `key` degraded; False when another process already did (the
    conditional UPDATE decides, so the episode starts and is audited once)."""
    with transaction.atomic(durable=True):
        CapabilityHealth.objects.get_or_create(capability_key=key)
        started = CapabilityHealth.objects.filter(capability_key=key, degraded_since__isnull=True).update(
            degraded_since=now, alerted_at=None, failed=failed, finished=finished, assessed_at=now
        )
        if started:
            record_audit(
                None,
                "capability.degraded",
                target=CapabilityHealth.objects.get(capability_key=key),
                details={"capability": key, "failed": failed, "finished": finished, "rule": rule_in_words()},
                actor_email="Switchboard",
            )
    return bool(started)


def end_episode(key: str, failed: int, finished: int, now: datetime) -> bool:
    with transaction.atomic(durable=True):
        ended = CapabilityHealth.objects.filter(capability_key=key, degraded_since__isnull=False).update(
            degraded_since=None, alerted_at=None, failed=failed, finished=finished, assessed_at=now
        )
        if ended:
            record_audit(
                None,
                "capability.recovered",
                target=CapabilityHealth.objects.get(capability_key=key),
                details={"capability": key, "failed": failed, "finished": finished},
                actor_email="Switchboard",
            )
    return bool(ended)


def it_admins() -> list[str]:
    return sorted(
        User.objects.filter(is_staff=True, is_active=True).exclude(email="").values_list("email", flat=True)
    )


def alert_it_admins(key: str) -> bool:
    """Email the IT admins that `key` is degraded, once per episode: the row is
    claimed (alerted_at set) before the email goes; if sending fails the claim
    is released for the next assessment. True when this call sent it."""
    now = timezone.now()
    mine = CapabilityHealth.objects.filter(
        capability_key=key, degraded_since__isnull=False, alerted_at__isnull=True
    )
    if not mine.update(alerted_at=now):
        return False
    row = CapabilityHealth.objects.get(capability_key=key)
    title = registry().get(key).title if key in registry() else key
    message = (
        f"{title} is degraded: {row.failed} of the {row.finished} jobs that finished in the last"
        f" {settings.CAPABILITY_DEGRADED_WINDOW / 60:g} minutes failed (the rule: {rule_in_words()}).\n\n"
        "Organizations' failed jobs are not billed, and the other capabilities are not affected."
        " Its catalog card and pages say it is degraded until the failures fall below the rule.\n\n"
        f"{settings.PORTAL_URL}/manage/health/\n"
    )
    try:
        to = it_admins()
        if to:
            send_mail(
                subject=f"[Switchboard] {title} is degraded",
                message=message,
                from_email=None,
                recipient_list=to,
            )
    except Exception:
        logger.exception("Could not email the IT admins about %s; the next assessment tries again", key)
        CapabilityHealth.objects.filter(capability_key=key, alerted_at=now).update(alerted_at=None)
        return False
    return True


@shared_task(name="capabilities.assess_health", ignore_result=True)
def assess_health() -> str:
    """Beat, every minute: the degraded rule over every capability."""
    assessment = assess_capabilities()
    return f"degraded {assessment.degraded}, recovered {assessment.recovered}, alerted {assessment.alerted}"
