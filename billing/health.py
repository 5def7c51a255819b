"""Billing's part of the IT admin health page: the usage push backlog (size and
age), rejected pushes, and whether Stripe is configured."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timesince

from billing import push
from billing import stripe_gateway as gateway
from billing.models import MeterErrorReport
from portal.health import HealthItem, HealthSection

# A backlog older than this means pushes are not draining (beat pushes every few minutes).
STALE_BACKLOG = timedelta(minutes=30)


def push_backlog() -> HealthSection:
    now = timezone.now()
    backlog = push.backlog()
    age = backlog.age(now)
    if not gateway.configured():
        target = HealthItem(
            "Stripe", "Not configured", "warn", "Set STRIPE_SECRET_KEY; usage waits meanwhile."
        )
    elif settings.STRIPE_API_BASE:
        target = HealthItem("Stripe", "Emulator", "warn", f"Offline emulator at {settings.STRIPE_API_BASE}")
    else:
        target = HealthItem("Stripe", "Configured", "ok")
    items = [
        target,
        HealthItem(
            "Push backlog",
            f"{backlog.pending} waiting" if backlog.pending else "Empty",
            "bad" if age and age > STALE_BACKLOG else "warn" if backlog.pending else "ok",
            (
                f"{backlog.quantity} units; oldest waiting {timesince(backlog.oldest_created, now)}"
                + (f"; last error: {backlog.last_error}" if backlog.last_error else "")
            )
            if backlog.pending and backlog.oldest_created
            else "Every closed hour of usage has been sent.",
        ),
        HealthItem(
            "Last push",
            f"{timesince(backlog.last_sent, now)} ago" if backlog.last_sent else "Never",
            "ok" if backlog.last_sent else "warn",
        ),
        HealthItem(
            "Rejected pushes",
            str(backlog.rejected),
            "bad" if backlog.rejected else "ok",
            "Stripe refused them; see the reconciliation runs." if backlog.rejected else "",
        ),
    ]
    errors = MeterErrorReport.objects.filter(reported_at__gte=now - timedelta(days=7)).count()
    items.append(HealthItem("Meter error reports (7 days)", str(errors), "bad" if errors else "ok"))
    return HealthSection(
        "Billing: usage to Stripe",
        "Closed hours of usage are pushed to Stripe as meter events; while Stripe is down they wait here.",
        items,
    )
