"""The usage push: closed hours of usage go to Stripe as meter events.

Two steps, each safe to repeat:

- `plan` reads what the ledger recorded since last time, finds the (organization,
  meter, hour) windows it touched that are closed, and writes a `UsagePush` for
  each window whose total is above what was already pushed: the whole total
  the first time, a delta (the next `seq`) for late usage. It is the outbox.
- `send` sends pending pushes, one call at a time (Stripe allows one concurrent
  call per customer and meter), with backoff on 429 and 5xx. Each event's
  identifier is deterministic, so a push sent again after a crash is deduped
  by Stripe. While Stripe is down or unconfigured pushes wait; nothing is lost.

Only meters priced above zero are pushed (a free meter has nothing to bill)."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from billing import stripe_gateway as gateway
from billing import sync
from billing.models import PushCursor, UsagePush
from metering import totals
from metering.moments import hour_of
from portal.models import Organization

logger = logging.getLogger(__name__)

# Stripe takes meter events with timestamps up to 35 days old; windows older
# than that (with a margin) can't be pushed and are left to reconciliation.
STRIPE_HORIZON = timedelta(days=35) - timedelta(hours=2)
# Ledger rows committed a little after their `recorded_at` are read again.
RESCAN_MARGIN = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=1)
LOCK_KEY = "billing:push:lock"


def close_delay() -> timedelta:
    """A window is closed this long after its hour ends (API-call counts are
    flushed into the ledger every minute). With BILLING_PUSH_OPEN_HOUR (the
    quickstart) the hour in progress is pushed too, as it fills: each push sends
    what is new as a delta with the next sequence number, as for late usage."""
    if settings.BILLING_PUSH_OPEN_HOUR:
        return -timedelta(hours=1)
    return timedelta(seconds=settings.BILLING_PUSH_CLOSE_DELAY)


def identifier(organization_id: int, capability: str, meter: str, window_start: datetime, seq: int) -> str:
    return f"{organization_id}:{capability}.{meter}:{window_start:%Y%m%dT%H}:{seq}"


@dataclass
class PlanReport:
    windows: int = 0
    created: int = 0
    quantity: int = 0
    negative: list[str] = field(default_factory=list)  # windows whose total fell below what was pushed


def plan(now: datetime | None = None) -> PlanReport:
    """Write pushes for closed windows touched since the last plan."""
    moment = now or timezone.now()
    open_from = hour_of(moment - close_delay())  # windows starting here or later are still open
    oldest = moment - STRIPE_HORIZON
    report = PlanReport()
    billable = set(sync.priced_meters(moment))
    with transaction.atomic():
        cursor, _ = PushCursor.objects.select_for_update().get_or_create(
            pk=1, defaults={"recorded_until": moment - timedelta(days=35)}
        )
        touched = totals.touched_windows(
            recorded_after=cursor.recorded_until - RESCAN_MARGIN,
            recorded_until=moment,
            occurred_from=oldest,
            occurred_before=open_from,
        )
        touched = {window for window in touched if (window[1], window[2]) in billable}
        report.windows = len(touched)
        for batch in _batches(sorted(touched), 500):
            _plan_batch(batch, report)
        # Events of still-open windows were recorded at or after the window's
        # start, so they are read again next time.
        cursor.recorded_until = min(moment, open_from, timezone.now())  # never ahead of the clock
        cursor.save(update_fields=["recorded_until"])
    return report


def _batches(
    items: list[tuple[int, str, str, datetime]], size: int
) -> list[list[tuple[int, str, str, datetime]]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _plan_batch(batch: list[tuple[int, str, str, datetime]], report: PlanReport) -> None:
    window_totals = totals.window_totals(batch)
    pushed = {
        (row["organization_id"], row["capability"], row["meter"], row["window_start"]): row
        for row in UsagePush.objects.filter(totals.windows_condition(batch, "window_start"))
        .values("organization_id", "capability", "meter", "window_start")
        .annotate(quantity=Sum("quantity", filter=~Q(status=UsagePush.Status.CANCELLED)), last_seq=Max("seq"))
        .order_by()
    }
    new = []
    for window in batch:
        total = window_totals.get(window, 0)
        already = pushed.get(window)
        sent = int(already["quantity"] or 0) if already else 0
        delta = total - sent
        if delta < 0:
            # A negative correction after the push: reconciliation cancels or
            # flags it (Stripe's meter events are not edited).
            report.negative.append(identifier(*window, seq=0))
            continue
        if delta == 0:
            continue
        seq = int(already["last_seq"]) + 1 if already else 0
        org_id, capability, meter, window_start = window
        new.append(
            UsagePush(
                organization_id=org_id,
                capability=capability,
                meter=meter,
                window_start=window_start,
                seq=seq,
                quantity=delta,
                identifier=identifier(org_id, capability, meter, window_start, seq),
            )
        )
        report.quantity += delta
    UsagePush.objects.bulk_create(new)
    report.created += len(new)


@dataclass
class SendReport:
    sent: int = 0
    rejected: int = 0
    deferred: int = 0
    stopped: str = ""  # why sending stopped early (Stripe down, not configured, already running)


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter, capped at an hour."""
    seconds = min(MAX_BACKOFF.total_seconds(), 30 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not secrecy)


def pending(now: datetime | None = None) -> list[UsagePush]:
    moment = now or timezone.now()
    return list(
        UsagePush.objects.filter(status=UsagePush.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=moment))
        .order_by("window_start", "organization_id", "capability", "meter", "seq")
    )


def send(now: datetime | None = None, limit: int | None = None) -> SendReport:
    """Send pending pushes, one call at a time. Only one sender runs at once."""
    report = SendReport()
    if not gateway.configured():
        report.stopped = "Stripe is not configured"
        return report
    if not cache.add(LOCK_KEY, "1", timeout=settings.BILLING_PUSH_LOCK_SECONDS):
        report.stopped = "another sender is running"
        return report
    try:
        _send(pending(now)[:limit] if limit else pending(now), report)
    finally:
        cache.delete(LOCK_KEY)
    return report


def _send(pushes: list[UsagePush], report: SendReport) -> None:
    meters = {}
    customers = sync.customer_ids({push.organization_id for push in pushes})
    paused: set[tuple[int, str, str]] = set()  # customer+meter pairs that got a 429 in this run
    for push in pushes:
        pair = (push.organization_id, push.capability, push.meter)
        if pair in paused:
            report.deferred += 1
            continue
        try:
            if push.organization_id not in customers:
                organization = Organization.objects.get(pk=push.organization_id)
                customers[push.organization_id] = sync.ensure_customer(organization).stripe_customer_id
            key = (push.capability, push.meter)
            if key not in meters:
                meters[key] = sync.ensure_meter(push.capability, push.meter)
            gateway.send_meter_event(
                event_name=meters[key].event_name,
                customer=customers[push.organization_id],
                value=push.quantity,
                identifier=push.identifier,
                occurred_at=push.window_start,
            )
        except gateway.RateLimited as error:
            _defer(push, error)
            paused.add(pair)
            report.deferred += 1
        except gateway.Unavailable as error:
            _defer(push, error)
            report.deferred += 1
            report.stopped = f"Stripe unavailable: {error.message}"
            return  # don't hammer a Stripe that is down; the backlog waits
        except gateway.NotConfigured as error:
            report.stopped = error.message
            return
        except gateway.Rejected as error:
            push.status = UsagePush.Status.REJECTED
            push.attempts += 1
            push.last_error = f"{error.code or 'rejected'}: {error.message}"[:500]
            push.save(update_fields=["status", "attempts", "last_error"])
            logger.error("Stripe rejected usage push %s: %s", push.identifier, error.message)
            report.rejected += 1
        else:
            push.status = UsagePush.Status.SENT
            push.sent_at = timezone.now()
            push.attempts += 1
            push.last_error = ""
            push.save(update_fields=["status", "sent_at", "attempts", "last_error"])
            report.sent += 1


def _defer(push: UsagePush, error: gateway.GatewayError) -> None:
    push.attempts += 1
    push.next_attempt_at = timezone.now() + backoff(push.attempts)
    push.last_error = f"{error.code or 'unavailable'}: {error.message}"[:500]
    push.save(update_fields=["attempts", "next_attempt_at", "last_error"])
