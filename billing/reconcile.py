"""Reconciliation: for every organization, meter and day of a billing period,
our ledger's total against Stripe's meter event summaries, once the usage is
older than the settling delay (summaries are eventually consistent).

One summaries call per organization and meter (plus pagination), grouped by
day. Each line ends up:

- matched;
- missing in Stripe (unless pending pushes already cover it): the day's pushes
  Stripe can still deduplicate are sent again under their own identifiers, so
  usage that is only late (summaries can lag past the settling delay) is never
  counted twice; only what they cannot explain is pushed as a new delta;
- excess in Stripe: pushes Stripe received less than 24 h ago are cancelled by
  identifier (and any overshoot re-pushed); what can't be cancelled any more is
  flagged for a credit note;
- unexplained: Stripe holds more than we ever sent, or a fractional value;
  flagged for review, nothing done automatically;
- settling: a push or cancellation for that day is too recent to show in the
  summaries yet; looked at again by the next run;
- unavailable: Stripe answered the organization-meter's summaries call with an
  error; nothing compared or changed, the run goes on with the others and ends
  "done with problems" (failed only if no call was answered).

Every action is recorded on the line; finance sees runs and lines.

It is longer than most modules on purpose: one run reads top to bottom (the
local and Stripe totals, the classification of a line, then its remedy), and
the remedies share the run's context; split apart, each half would have to
restate the rules of the other.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from billing import push as pushes
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, ReconciliationLine, ReconciliationRun, StripeMeter, UsagePush
from metering import totals
from metering.formatting import count
from metering.moments import hour_of, midnight
from metering.periods import billing_period
from portal.models import User

logger = logging.getLogger(__name__)

DAY = timedelta(days=1)
# Stripe cancels an event by identifier only within 24 h of receiving it; keep a margin.
CANCEL_WINDOW = timedelta(hours=23)

Line = ReconciliationLine
Status = ReconciliationLine.Status
Action = ReconciliationLine.Action


def settling_delay() -> timedelta:
    return timedelta(seconds=settings.BILLING_SETTLING_DELAY)


def cutoff(period_start: datetime, moment: datetime) -> datetime:
    """The end of the usage a run at `moment` compares: the last whole hour
    the settling delay allows, inside the billing period that starts at
    `period_start` (its start when nothing of it has settled yet)."""
    period = billing_period(period_start)
    settled = hour_of(moment - settling_delay())
    return max(period.start, min(period.end, settled))


def start_run(actor: User | None, period_start: datetime, now: datetime | None = None) -> ReconciliationRun:
    """A queued run for the billing period that starts at `period_start`,
    covering usage up to the settling delay from now (the worker moves the
    cutoff on if it starts the run later)."""
    period = billing_period(period_start)
    return ReconciliationRun.objects.create(
        period_start=period.start,
        period_end=period.end,
        checked_until=cutoff(period.start, now or timezone.now()),
        triggered_by=actor,
    )


# A run still "running" this long after it started lost its worker (killed,
# redeployed): it is marked failed so finance sees it and starts another.
STALE_AFTER = timedelta(hours=3)


def fail_stale_runs(now: datetime | None = None) -> int:
    """Mark runs whose worker stopped mid-way as failed; returns how many."""
    moment = now or timezone.now()
    return ReconciliationRun.objects.filter(
        status=ReconciliationRun.Status.RUNNING, started_at__lt=moment - STALE_AFTER
    ).update(
        status=ReconciliationRun.Status.FAILED,
        finished_at=moment,
        error="The worker running this reconciliation stopped before it finished; start a new run.",
    )


def waiting_runs(now: datetime | None = None) -> list[int]:
    """Runs still queued `JOB_REQUEUE_GRACE` seconds after they were asked for:
    their message was lost (Redis lost its data, or a killed worker held it),
    or every worker is busy. Sending one again is safe: `run` takes a queued run
    once, and a second message finds it taken."""
    moment = now or timezone.now()
    return list(
        ReconciliationRun.objects.filter(
            status=ReconciliationRun.Status.QUEUED,
            created_at__lte=moment - timedelta(seconds=settings.JOB_REQUEUE_GRACE),
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )


DailyTotals = Callable[[str, str, datetime, datetime], tuple[dict[date, Decimal], int]]


def grouped_daily_totals(
    meter: str, customer: str, start: datetime, end: datetime
) -> tuple[dict[date, Decimal], int]:
    """Stripe's total per day in [start, end): one call grouped by day (plus pagination)."""
    summaries, calls = gateway.meter_summaries(
        meter=meter, customer=customer, start=start, end=end, window="day"
    )
    return {summary.start.date(): summary.value for summary in summaries}, calls


@dataclass
class _Context:
    run: ReconciliationRun
    now: datetime
    cutoff: datetime  # usage before this hour is settled and compared
    summary_end: datetime  # day-aligned end of the summaries asked for


def run(
    run_id: int, now: datetime | None = None, daily_totals: DailyTotals = grouped_daily_totals
) -> ReconciliationRun:
    """Carry out a queued run; progress is saved as it goes."""
    moment = now or timezone.now()
    with transaction.atomic():
        reconciliation = ReconciliationRun.objects.select_for_update().get(pk=run_id)
        if reconciliation.status != ReconciliationRun.Status.QUEUED:
            return reconciliation  # already taken by another delivery of the task
        reconciliation.status = ReconciliationRun.Status.RUNNING
        reconciliation.started_at = timezone.now()
        reconciliation.save(update_fields=["status", "started_at"])
    if not gateway.configured():
        reconciliation.status = ReconciliationRun.Status.FAILED
        reconciliation.error = "Stripe is not configured (STRIPE_SECRET_KEY): nothing was compared."
        reconciliation.finished_at = timezone.now()
        reconciliation.save()
        return reconciliation
    until = cutoff(reconciliation.period_start, moment)
    summary_end = midnight(until.date()) if until.time() == time.min else midnight(until.date()) + DAY
    context = _Context(reconciliation, moment, until, min(summary_end, reconciliation.period_end))
    reconciliation.checked_until = until
    accounts = list(
        BillingAccount.objects.exclude(stripe_customer_id="")
        .select_related("organization")
        .order_by("organization_id")
    )
    meters = list(StripeMeter.objects.exclude(stripe_meter_id="").order_by("capability", "meter"))
    reconciliation.progress_total = len(accounts) * len(meters)
    reconciliation.save(update_fields=["checked_until", "progress_total"])
    # Plan every closed window first: usage the periodic push hasn't planned yet
    # then shows as pending (waiting), never as a gap to re-push twice.
    pushes.plan(now=moment)
    unread_errors: list[str] = []  # one per organization-meter whose summaries Stripe did not answer
    if until > reconciliation.period_start:
        for account in accounts:
            unread_errors += _reconcile_account(context, account, meters, daily_totals)
    # What was planned (and re-pushed) goes out even when some lines could not
    # be read: the sender defers what Stripe refuses and the periodic push retries.
    try:
        pushes.send()
    except gateway.GatewayError as error:
        logger.warning("Reconciliation %s could not send its pushes: %s", reconciliation.pk, error.message)
    unread = len(unread_errors)
    if unread and unread == reconciliation.progress_total:
        reconciliation.status = ReconciliationRun.Status.FAILED
        reconciliation.error = f"Stripe: {unread_errors[0]}"[:500]
        logger.warning(
            "Reconciliation %s: Stripe answered no summaries: %s", reconciliation.pk, unread_errors[0]
        )
    elif reconciliation.unavailable:
        first = unread_errors[0] if unread_errors else "while cancelling or resending events"
        reconciliation.status = ReconciliationRun.Status.PARTIAL
        reconciliation.error = (
            f"Stripe did not answer for {count(reconciliation.unavailable, 'line')} ({first}); "
            "they are marked unavailable and the next run looks at them again."
        )[:500]
        logger.warning("Reconciliation %s done with unavailable lines: %s", reconciliation.pk, first)
    else:
        reconciliation.status = ReconciliationRun.Status.DONE
    reconciliation.finished_at = timezone.now()
    reconciliation.save()
    return reconciliation


def _reconcile_account(
    context: _Context, account: BillingAccount, meters: list[StripeMeter], daily_totals: DailyTotals
) -> list[str]:
    """Compare one organization's meters; returns Stripe's errors (one per
    organization-meter it could not read)."""
    run = context.run
    local = totals.daily_totals(account.organization_id, run.period_start, context.cutoff)
    day_pushes: dict[tuple[str, str, date], list[UsagePush]] = defaultdict(list)
    for push in UsagePush.objects.filter(
        organization_id=account.organization_id,
        window_start__gte=run.period_start,
        window_start__lt=context.summary_end,
    ).order_by("-sent_at", "-seq"):
        day_pushes[(push.capability, push.meter, push.window_start.date())].append(push)
    lines: list[ReconciliationLine] = []
    errors: list[str] = []
    for meter in meters:
        days = {day for (cap, name, day) in local if (cap, name) == (meter.capability, meter.meter)}
        days |= {day for (cap, name, day) in day_pushes if (cap, name) == (meter.capability, meter.meter)}
        try:
            stripe, calls = daily_totals(
                meter.stripe_meter_id, account.stripe_customer_id, run.period_start, context.summary_end
            )
        except gateway.GatewayError as error:
            # One organization-meter Stripe did not answer (after the SDK's
            # retries): its lines say so and the run goes on with the others.
            run.api_calls += 1
            errors.append(error.message)
            logger.warning(
                "Reconciliation %s: no summaries for organization %s %s.%s: %s",
                run.pk,
                account.organization_id,
                meter.capability,
                meter.meter,
                error.message,
            )
            for day in sorted(days) or [run.period_start.date()]:
                lines.append(
                    _unavailable(
                        context,
                        account,
                        meter,
                        day,
                        local.get((meter.capability, meter.meter, day), 0),
                        f"Stripe did not answer the summaries call ({error.message}); "
                        "nothing was compared or changed, the next run looks again.",
                    )
                )
            run.progress_done += 1
            continue
        run.api_calls += calls
        days |= {day for day, value in stripe.items() if value}
        for day in sorted(days):
            quantity = local.get((meter.capability, meter.meter, day), 0)
            try:
                line = _classify(
                    context,
                    account,
                    meter,
                    day,
                    quantity,
                    stripe.get(day, Decimal(0)),
                    day_pushes.get((meter.capability, meter.meter, day), []),
                )
            except gateway.Unavailable as error:
                line = _unavailable(
                    context,
                    account,
                    meter,
                    day,
                    quantity,
                    f"Stripe did not answer while correcting this line ({error.message}); "
                    "what was done is on the pushes, the next run looks again.",
                )
            lines.append(line)
        run.progress_done += 1
    ReconciliationLine.objects.bulk_create(lines)
    for line in lines:
        setattr(run, line.status, getattr(run, line.status) + 1)
    run.save(
        update_fields=[
            "progress_done",
            "api_calls",
            "matched",
            "missing",
            "excess",
            "unexplained",
            "settling",
            "unavailable",
        ]
    )
    return errors


def _line(
    context: _Context, account: BillingAccount, meter: StripeMeter, day: date, local: int, stripe: int | None
) -> ReconciliationLine:
    return ReconciliationLine(
        run=context.run,
        organization_id=account.organization_id,
        capability=meter.capability,
        meter=meter.meter,
        day=day,
        local_quantity=local,
        stripe_quantity=stripe,
    )


def _unavailable(
    context: _Context, account: BillingAccount, meter: StripeMeter, day: date, local: int, detail: str
) -> ReconciliationLine:
    return _done(_line(context, account, meter, day, local, None), Status.UNAVAILABLE, Action.NONE, detail)


def _classify(
    context: _Context,
    account: BillingAccount,
    meter: StripeMeter,
    day: date,
    local: int,
    stripe_value: Decimal,
    day_pushes: list[UsagePush],
) -> ReconciliationLine:
    line = _line(context, account, meter, day, local, int(stripe_value))
    if stripe_value != stripe_value.to_integral_value():
        return _done(
            line, Status.UNEXPLAINED, Action.REVIEW, f"Stripe reports a fractional total ({stripe_value})."
        )
    stripe = int(stripe_value)
    settle = context.now - settling_delay()
    recent = [
        push
        for push in day_pushes
        if (push.sent_at and push.sent_at > settle)
        or (push.cancelled_at and push.cancelled_at > settle)
        or (push.status == UsagePush.Status.SENT and push.window_start >= context.cutoff)
    ]
    if recent:
        return _done(
            line,
            Status.SETTLING,
            Action.NONE,
            f"{count(len(recent), 'recent push')} may not show in Stripe yet.",
        )
    if stripe == local:
        return _done(line, Status.MATCHED, Action.NONE, "")
    pending = sum(push.quantity for push in day_pushes if push.status == UsagePush.Status.PENDING)
    sent = sum(push.quantity for push in day_pushes if push.status == UsagePush.Status.SENT)
    if stripe < local:
        gap = local - stripe - pending
        if gap <= 0:
            return _done(
                line,
                Status.MISSING,
                Action.WAITING,
                f"{count(pending, 'unit')} {'is' if pending == 1 else 'are'} waiting to be sent.",
            )
        if midnight(day) < context.now - pushes.STRIPE_HORIZON:
            return _done(
                line,
                Status.MISSING,
                Action.REVIEW,
                f"{count(gap, 'unit')} {'is' if gap == 1 else 'are'} too old for Stripe to accept.",
            )
        return _fill_gap(context, line, account, meter, day, gap, day_pushes)
    if stripe > sent:
        return _done(
            line,
            Status.UNEXPLAINED,
            Action.REVIEW,
            f"Stripe holds {stripe} but we sent {sent}: events we did not send.",
        )
    return _cancel_excess(
        line, meter, stripe - local, day_pushes, account.organization_id, day, context.cutoff
    )


def _fill_gap(
    context: _Context,
    line: ReconciliationLine,
    account: BillingAccount,
    meter: StripeMeter,
    day: date,
    gap: int,
    day_pushes: list[UsagePush],
) -> ReconciliationLine:
    """Stripe's summaries show less than we sent. A push Stripe received may
    only be late (summaries lag, sometimes longer than the settling delay), and
    nothing in the summaries tells a late event from a lost one. So the day's
    pushes Stripe can still deduplicate (received under 23 h ago) are sent
    again under their own identifiers: Stripe counts an identifier once, so a
    late one is not counted twice, whatever the lag, and a lost one is counted
    now. Only the part of the gap those pushes cannot explain goes out as a new
    delta (it can't be late by less than 23 h)."""
    limit = max(context.now, timezone.now()) - CANCEL_WINDOW
    resendable = [
        push
        for push in day_pushes
        if push.status == UsagePush.Status.SENT
        and push.sent_at is not None
        and push.sent_at > limit
        and push.quantity > 0
    ]
    resent = [push for push in resendable if _resend(account, meter, push)]
    notes = []
    if resent:
        units = sum(push.quantity for push in resent)
        notes.append(
            f"Re-pushed {count(min(gap, units), 'unit')} as {', '.join(push.identifier for push in resent)} "
            "(sent again under their own identifiers: Stripe counts each once, so usage that is "
            "only late is not counted twice)"
        )
    rest = gap - sum(push.quantity for push in resendable)
    if rest > 0:
        repush = _repush(account.organization_id, meter, day, rest, day_pushes, context.cutoff)
        notes.append(f"Re-pushed {count(rest, 'unit')} as {repush.identifier}")
    if not notes:
        return _done(
            line, Status.MISSING, Action.REVIEW, "Stripe refused to take the usage again: see the pushes."
        )
    return _done(line, Status.MISSING, Action.REPUSHED, "; ".join(notes) + ".")


def _resend(account: BillingAccount, meter: StripeMeter, push: UsagePush) -> bool:
    """Send a push again under its identifier (Stripe does not count it twice)."""
    try:
        gateway.send_meter_event(
            event_name=meter.event_name,
            customer=account.stripe_customer_id,
            value=push.quantity,
            identifier=push.identifier,
            occurred_at=push.window_start,
        )
    except gateway.Rejected as error:
        logger.warning("Stripe refused %s sent again: %s", push.identifier, error.message)
        return False
    push.resent_at = timezone.now()
    push.save(update_fields=["resent_at"])
    return True


def _done(line: ReconciliationLine, status: str, action: str, detail: str) -> ReconciliationLine:
    line.status = status
    line.action = action
    line.detail = (detail[:1].upper() + detail[1:])[:500]
    return line


def _repush(
    organization_id: int,
    meter: StripeMeter,
    day: date,
    quantity: int,
    day_pushes: list[UsagePush],
    cutoff: datetime,
) -> UsagePush:
    """A new delta in the day's latest pushed window (or the day's first hour),
    with that window's next sequence number."""
    windows = [push.window_start for push in day_pushes if push.window_start < cutoff]
    window = max(windows) if windows else midnight(day)
    last = UsagePush.objects.filter(
        organization_id=organization_id, capability=meter.capability, meter=meter.meter, window_start=window
    ).aggregate(last=Max("seq"))["last"]
    seq = 0 if last is None else last + 1
    return UsagePush.objects.create(
        organization_id=organization_id,
        capability=meter.capability,
        meter=meter.meter,
        window_start=window,
        seq=seq,
        quantity=quantity,
        identifier=pushes.identifier(organization_id, meter.capability, meter.meter, window, seq),
        source=UsagePush.Source.RECONCILIATION,
    )


def _cancel_excess(
    line: ReconciliationLine,
    meter: StripeMeter,
    excess: int,
    day_pushes: list[UsagePush],
    organization_id: int,
    day: date,
    cutoff: datetime,
) -> ReconciliationLine:
    """Cancel sent pushes (newest first) that make up the excess; if only a
    larger one is left, cancel it and re-push what it overshoots. What can't be
    cancelled (received over 24 h ago) is flagged for a credit note."""
    limit = timezone.now() - CANCEL_WINDOW
    cancellable = [
        push
        for push in day_pushes
        if push.status == UsagePush.Status.SENT and push.sent_at is not None and push.sent_at > limit
    ]
    remaining = excess
    cancelled: list[str] = []
    for push in list(cancellable):
        if 0 < push.quantity <= remaining and _cancel(meter, push):
            remaining -= push.quantity
            cancelled.append(push.identifier)
            cancellable.remove(push)
    notes = []
    if remaining > 0:
        larger = sorted(
            (push for push in cancellable if push.quantity > remaining), key=lambda push: push.quantity
        )
        for push in larger:
            if _cancel(meter, push):
                cancelled.append(push.identifier)
                overshoot = push.quantity - remaining
                repush = _repush(organization_id, meter, day, overshoot, day_pushes, cutoff)
                notes.append(f"re-pushed {overshoot} as {repush.identifier}")
                remaining = 0
                break
    if cancelled:
        notes.insert(0, f"cancelled {', '.join(cancelled)}")
    if remaining > 0:
        notes.append(f"{count(remaining, 'unit')} received over 24 h ago: issue a credit note")
        return _done(line, Status.EXCESS, Action.CREDIT_NOTE, "; ".join(notes))
    return _done(line, Status.EXCESS, Action.CANCELLED, "; ".join(notes))


def _cancel(meter: StripeMeter, push: UsagePush) -> bool:
    try:
        gateway.cancel_meter_event(event_name=meter.event_name, identifier=push.identifier)
    except gateway.Rejected as error:
        logger.warning("Stripe refused to cancel %s: %s", push.identifier, error.message)
        return False
    push.status = UsagePush.Status.CANCELLED
    push.cancelled_at = timezone.now()
    push.save(update_fields=["status", "cancelled_at"])
    return True
