"""Read models of billing for pages: the usage push backlog of the IT admin
health page, from the ledger (through metering's queries) against what was
sent to Stripe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from billing import sync
from billing.models import UsagePush
from billing.push import STRIPE_HORIZON, close_delay
from metering.moments import hour_of
from metering.queries.backlog import oldest_usage_hour, usage_beyond


@dataclass(frozen=True)
class Backlog:
    """Closed hours of priced usage that are not on Stripe, for the health page:
    the ledger's totals against what Stripe acknowledged, so usage the planner
    never planned counts as much as a push that waits. Days older than Stripe's
    horizon are beyond what the push can send and are left out (`since`)."""

    quantity: int  # units not on Stripe
    hours: int  # organization-meter-hours they belong to
    organizations: int
    oldest_hour: datetime | None
    since: datetime  # the first hour looked at
    until: datetime  # the first hour not closed yet
    pending: int  # pushes planned and waiting to be sent
    rejected: int
    last_sent: datetime | None
    last_error: str  # of the oldest waiting push
    # Only looked for while nothing was ever sent: the first hour of priced
    # usage before `since`, which no push can send any more.
    never_sent_from: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.quantity == 0 and self.never_sent_from is None

    def age(self, now: datetime | None = None) -> timedelta | None:
        """How long the oldest hour not on Stripe has been closed."""
        if self.oldest_hour is None:
            return None
        return (now or timezone.now()) - (self.oldest_hour + timedelta(hours=1) + close_delay())


def sent_pushes(start: datetime, end: datetime) -> QuerySet[UsagePush, tuple[int, str, str, datetime, int]]:
    """What Stripe acknowledged for the hours in [start, end), as
    (organization_id, capability, meter, window_start, quantity) rows, a delta
    as its own row. Pending, rejected and cancelled pushes are not on Stripe."""
    return (
        UsagePush.objects.filter(status=UsagePush.Status.SENT, window_start__gte=start, window_start__lt=end)
        .values_list("organization_id", "capability", "meter", "window_start", "quantity")
        .order_by()
    )


def backlog(now: datetime | None = None) -> Backlog:
    """What waits to go to Stripe: the ledger's closed hours of priced meters
    (closed `BILLING_PUSH_CLOSE_DELAY` after they end) beyond what was sent, from
    the first whole UTC day Stripe still accepts. A fixed number of queries,
    whatever the rows."""
    moment = now or timezone.now()
    oldest = hour_of(moment - STRIPE_HORIZON)
    since = oldest if oldest.hour == 0 else oldest.replace(hour=0) + timedelta(days=1)
    until = hour_of(moment - close_delay())
    meters = set(sync.priced_meters(moment))
    outstanding = usage_beyond(sent_pushes(since, until), meters=meters, start=since, end=until)
    counts = UsagePush.objects.filter(
        status__in=[UsagePush.Status.PENDING, UsagePush.Status.REJECTED]
    ).aggregate(
        pending=Count("pk", filter=Q(status=UsagePush.Status.PENDING)),
        rejected=Count("pk", filter=Q(status=UsagePush.Status.REJECTED)),
    )
    last_error = (
        UsagePush.objects.filter(status=UsagePush.Status.PENDING)
        .order_by("created_at")
        .values_list("last_error", flat=True)
        .first()
    )
    last_sent = UsagePush.objects.aggregate(last=Max("sent_at"))["last"]
    return Backlog(
        quantity=outstanding.quantity,
        hours=outstanding.hours,
        organizations=outstanding.organizations,
        oldest_hour=outstanding.oldest_hour,
        since=since,
        until=until,
        pending=counts["pending"],
        rejected=counts["rejected"],
        last_sent=last_sent,
        last_error=last_error or "",
        never_sent_from=None if last_sent else oldest_usage_hour(meters, before=since),
    )
