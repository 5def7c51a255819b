"""Billing's part of the IT admin health page: the usage push backlog (what
the ledger holds for closed hours beyond what Stripe acknowledged, its size
and its oldest hour), the last push, rejected pushes, and whether Stripe is
configured."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import dateformat, timezone
from django.utils.timesince import timesince

from billing import queries
from billing import stripe_gateway as gateway
from billing.models import MeterErrorReport
from portal.health import HealthItem, HealthSection, ago

# An hour closed this long ago and still not sent means pushes are not draining
# (beat plans and sends every 5 minutes).
STALE_BACKLOG = timedelta(minutes=30)


def when(moment: datetime) -> str:
    return dateformat.format(timezone.localtime(moment), "Y-m-d H:i T")


def plural(count: int, word: str, words: str = "") -> str:
    return f"{count:,} {word if count == 1 else words or word + 's'}"


def backlog_item(backlog: queries.Backlog, configured: bool, now: datetime) -> HealthItem:
    """The backlog as the ledger has it: "Empty" only when no closed hour of
    priced usage waits to be sent."""
    old = (
        f"priced usage since {when(backlog.never_sent_from)} was never sent and is older than the"
        " 35 days Stripe accepts: no push can send it"
        if backlog.never_sent_from
        else ""
    )
    if not backlog.quantity:
        if old:
            return HealthItem("Push backlog", "Too old to send", "bad", old[0].upper() + old[1:] + ".")
        return HealthItem(
            "Push backlog",
            "Empty",
            "ok",
            f"No priced usage of a closed hour since {when(backlog.since)} waits to be sent.",
        )
    notes = [
        f"{plural(backlog.quantity, 'unit')} in {plural(backlog.hours, 'organization-meter-hour')}"
        f" of {plural(backlog.organizations, 'organization')}."
    ]
    if backlog.oldest_hour is not None:
        notes.append(f"Oldest hour: {when(backlog.oldest_hour)} ({timesince(backlog.oldest_hour, now)} ago).")
    notes.append(
        f"{plural(backlog.pending, 'push', 'pushes')} planned, waiting to be sent."
        if backlog.pending
        else "No push planned yet."
    )
    if backlog.last_error:
        notes.append(f"Last error: {backlog.last_error}")
    if not configured:
        notes.append("It waits until Stripe is configured.")
    if old:
        notes.append(old[0].upper() + old[1:] + ".")
    age = backlog.age(now)
    stale = configured and age is not None and age > STALE_BACKLOG
    return HealthItem(
        "Push backlog",
        f"{plural(backlog.hours, 'hour')} waiting",
        "bad" if stale or old else "warn",
        " ".join(notes),
    )


def push_backlog() -> HealthSection:
    now = timezone.now()
    backlog = queries.backlog(now)
    configured = gateway.configured()
    if not configured:
        target = HealthItem(
            "Stripe", "Not configured", "warn", "Set STRIPE_SECRET_KEY; usage waits meanwhile."
        )
    elif settings.STRIPE_API_BASE:
        target = HealthItem("Stripe", "Emulator", "warn", f"Offline emulator at {settings.STRIPE_API_BASE}")
    else:
        target = HealthItem("Stripe", "Configured", "ok")
    items = [
        target,
        backlog_item(backlog, configured, now),
        HealthItem(
            "Last push",
            ago(backlog.last_sent, now) if backlog.last_sent else "Never",
            "ok" if backlog.last_sent else "warn",
        ),
        HealthItem(
            "Rejected pushes",
            str(backlog.rejected),
            "bad" if backlog.rejected else "ok",
            "Stripe refused them; their usage counts in the backlog. See the reconciliation runs."
            if backlog.rejected
            else "",
        ),
    ]
    errors = MeterErrorReport.objects.filter(reported_at__gte=now - timedelta(days=7)).count()
    items.append(HealthItem("Meter error reports (7 days)", str(errors), "bad" if errors else "ok"))
    return HealthSection(
        "Billing: usage to Stripe",
        "Closed hours of priced usage go to Stripe as meter events. The backlog is what the ledger"
        " holds for them beyond what Stripe acknowledged; while Stripe is down or not configured it"
        " waits here.",
        items,
    )
