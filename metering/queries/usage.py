"""Read models of an organization's usage: the usage page (usage and cost
per meter, the chart, the period so far and its projection), its CSV and the
usage API's report.

Every figure comes from the hourly rollups, never the raw ledger: one GROUP BY
in the database per panel, priced afterwards per (capability, meter) from the
meter prices, so a panel costs one query whatever the number of events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDay, TruncHour

from metering import meter_prices
from metering.models import UsageEvent, UsageRollup
from metering.moments import midnight
from metering.periods import HOUR, Period, billing_period
from metering.queries.sources import Source, in_period, source_of
from portal.models import Organization

# --- priced lines -------------------------------------------------------------------


@dataclass(frozen=True)
class UsageLine:
    """Usage of one meter of one capability, priced."""

    capability: str
    capability_title: str
    meter: str
    unit: str
    quantity: int
    unit_price: Decimal
    currency: str
    events: int = 0

    @property
    def cost(self) -> Decimal:
        """Exact, for exports and the API."""
        return self.unit_price * self.quantity

    # Set when the line adds up several organizations' invoice lines (finance):
    # the sum of their rounded amounts.
    billed: Decimal | None = None

    @property
    def amount(self) -> Decimal:
        """What the invoice line says (`meter_prices.line_amount`), or the sum of
        the organizations' invoice lines it adds up."""
        if self.billed is not None:
            return self.billed
        return meter_prices.line_amount(self.quantity, self.unit_price, self.currency)


class PriceList:
    """The meter prices, read once for a query's rows (their source
    builds its list on every call)."""

    def __init__(self) -> None:
        self._known = meter_prices.lookup()

    def line(self, capability: str, meter: str, quantity: int, events: int = 0) -> UsageLine:
        info = self._known.get((capability, meter))
        if info is None:  # usage of a meter no longer priced: described once
            info = self._known[(capability, meter)] = meter_prices.describe(capability, meter)
        return UsageLine(
            capability=capability,
            capability_title=info.capability_title,
            meter=meter,
            unit=info.unit,
            quantity=quantity,
            unit_price=info.unit_price,
            currency=info.currency,
            events=events,
        )


def totals_by_currency(lines: Iterable[UsageLine]) -> dict[str, Decimal]:
    """Total per currency as an invoice adds it up: the sum of the lines, each
    rounded by Stripe's rule (amounts in different currencies never add up)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.currency] += line.amount
    return dict(sorted(totals.items()))


def sorted_lines(lines: Iterable[UsageLine]) -> list[UsageLine]:
    """`lines` in the order the pages list them: by capability title, then meter."""
    return sorted(lines, key=lambda line: (line.capability_title.lower(), line.capability, line.meter))


def usage_by_meter(rollups: QuerySet[UsageRollup] | Source, period: Period) -> list[UsageLine]:
    """Quantity and cost per capability and meter (one query)."""
    rows = (
        in_period(rollups, period)
        .values("capability", "meter")
        .annotate(total=Sum("quantity"), event_count=Sum("events"))
        .order_by()
    )
    prices = PriceList()
    return sorted_lines(
        prices.line(row["capability"], row["meter"], int(row["total"]), int(row["event_count"]))
        for row in rows
    )


def organization_rollups(organization: Organization) -> QuerySet[UsageRollup]:
    """The one way to read an organization's rollups."""
    return UsageRollup.objects.filter(organization=organization)


# --- usage over time ----------------------------------------------------------------


@dataclass
class Trend:
    """Cost per chart bucket (hour or day) and capability, for a stacked chart."""

    period: Period
    buckets: list[datetime]
    # capability key -> title, in legend order
    series: dict[str, str] = field(default_factory=dict)
    # (bucket, capability) -> cost
    costs: dict[tuple[datetime, str], Decimal] = field(default_factory=dict)
    currency: str = "usd"

    def cost_at(self, bucket: datetime, capability: str) -> Decimal:
        return self.costs.get((bucket, capability), Decimal(0))

    def total_at(self, bucket: datetime) -> Decimal:
        return sum((self.cost_at(bucket, key) for key in self.series), Decimal(0))


def usage_over_time(
    rollups: QuerySet[UsageRollup] | Source | list[tuple[datetime, str, str, int]], period: Period
) -> Trend:
    """Cost per hour or day (see `Period.bucket`) and capability (one query)."""
    trend = Trend(period=period, buckets=period.buckets())
    currencies: set[str] = set()
    titles: dict[str, str] = {}
    prices = PriceList()
    rows = rollups if isinstance(rollups, list) else quantities_over_time(rollups, period)
    for bucket, capability, meter, quantity in rows:
        line = prices.line(capability, meter, quantity)
        titles[capability] = line.capability_title
        currencies.add(line.currency)
        trend.costs[(bucket, capability)] = trend.costs.get((bucket, capability), Decimal(0)) + line.cost
    trend.series = dict(sorted(titles.items(), key=lambda item: (item[1].lower(), item[0])))
    if len(currencies) == 1:
        trend.currency = currencies.pop()
    return trend


def quantities_over_time(
    rollups: QuerySet[UsageRollup] | Source, period: Period
) -> list[tuple[datetime, str, str, int]]:
    """(bucket, capability, meter, quantity) rows, grouped in the database."""
    source = source_of(rollups)
    scoped = source.in_period(period)
    if source.column == "day":
        daily = scoped.values_list("day", "capability", "meter").annotate(total=Sum("quantity")).order_by()
        return [(midnight(day), capability, meter, int(total)) for day, capability, meter, total in daily]
    if period.bucket == HOUR:
        rows = scoped.values_list("hour", "capability", "meter").annotate(total=Sum("quantity")).order_by()
    else:
        rows = (
            scoped.annotate(day=TruncDay("hour", tzinfo=UTC))
            .values_list("day", "capability", "meter")
            .annotate(total=Sum("quantity"))
            .order_by()
        )
    return [
        (bucket.astimezone(UTC), capability, meter, int(total)) for bucket, capability, meter, total in rows
    ]


# --- the usage API's report ---------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    """One row of the usage API: the requested grouping's values, its quantity
    and its exact cost in one currency."""

    group: dict[str, Any]
    quantity: int
    cost: Decimal
    currency: str
    unit: str | None

    def as_dict(self) -> dict[str, Any]:
        found = {**self.group, "quantity": self.quantity, "cost": self.cost, "currency": self.currency}
        if self.unit is not None:
            found["unit"] = self.unit
        return found


def usage_report(
    rollups: QuerySet[UsageRollup],
    period: Period,
    group_by: Sequence[str],
    *,
    organization: Organization | None = None,
) -> list[ReportRow]:
    """Usage grouped by any of capability, meter, day, hour (one query). The
    database groups by capability and meter too, so each row is priced by its
    own meter before the rows are added up to the requested grouping.

    Grouped by `version` (of `organization`), it is read from the ledger's
    events instead: the rollups don't keep the capability version a job ran
    with, its usage events do (`properties.version`); usage that no job of a
    declared version made (API calls, services' events, jobs from before
    versions) has version None."""
    scoped: QuerySet[Any]
    if "version" in group_by:
        assert organization is not None, "grouping by version reads the organization's events"
        scoped = UsageEvent.objects.filter(
            organization=organization, occurred_at__gte=period.start, occurred_at__lt=period.end
        ).annotate(version=KT("properties__version"))
        fields = ["capability", "meter", "version"]
        time_column = "occurred_at"
    else:
        scoped = in_period(rollups, period)
        fields = ["capability", "meter"]
        time_column = "hour"
    if "day" in group_by:
        scoped = scoped.annotate(day=TruncDay(time_column, tzinfo=UTC))
        fields.append("day")
    if "hour" in group_by:
        if time_column != "hour":
            scoped = scoped.annotate(hour=TruncHour(time_column, tzinfo=UTC))
        fields.append("hour")
    rows = scoped.values(*fields).annotate(total=Sum("quantity")).order_by()
    sums: dict[tuple[Any, ...], list[Any]] = {}
    by_meter = "capability" in group_by and "meter" in group_by
    prices = PriceList()
    for row in rows:
        line = prices.line(row["capability"], row["meter"], int(row["total"]))
        values = {name: row[name].astimezone(UTC).date() if name == "day" else row[name] for name in group_by}
        if "hour" in values:
            values["hour"] = values["hour"].astimezone(UTC)
        key = (*values.values(), line.currency)
        found = sums.setdefault(key, [values, 0, Decimal(0), line.currency, line.unit if by_meter else None])
        found[1] += line.quantity
        found[2] += line.cost
    report = [
        ReportRow(values, quantity, cost, currency, unit)
        for values, quantity, cost, currency, unit in sums.values()
    ]
    time_key = "day" if "day" in group_by else "hour" if "hour" in group_by else None
    return sorted(
        report,
        key=lambda row: (
            row.group[time_key] if time_key else 0,
            row.group.get("capability", ""),
            row.group.get("meter", ""),
            row.group.get("version") or "",
            row.currency,
        ),
    )


def totals_of_report(rows: Iterable[ReportRow]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.currency] += row.cost
    return dict(sorted(totals.items()))


# --- the period so far and its projection ------------------------------------------


@dataclass(frozen=True)
class Projection:
    """Cost of the billing period so far and where it is heading if usage goes
    on at the same pace: cost so far / elapsed fraction of the period."""

    period: Period
    now: datetime
    lines: list[UsageLine]

    @property
    def elapsed_fraction(self) -> Decimal:
        total = Decimal((self.period.end - self.period.start).total_seconds())
        elapsed = Decimal((min(self.now, self.period.end) - self.period.start).total_seconds())
        return max(Decimal(0), elapsed / total)

    @property
    def elapsed_days(self) -> Decimal:
        seconds = (min(self.now, self.period.end) - self.period.start).total_seconds()
        return Decimal(seconds) / Decimal(86400)

    @property
    def period_days(self) -> int:
        return (self.period.end - self.period.start).days

    @property
    def cost_so_far(self) -> dict[str, Decimal]:
        return totals_by_currency(self.lines)

    @property
    def projected(self) -> dict[str, Decimal]:
        fraction = self.elapsed_fraction
        if fraction == 0:
            return self.cost_so_far
        return {currency: amount / fraction for currency, amount in self.cost_so_far.items()}


def projection(rollups: QuerySet[UsageRollup], now: datetime) -> Projection:
    """The current billing period's cost so far and its projection (one query)."""
    period = billing_period(now)
    return Projection(period=period, now=now, lines=usage_by_meter(rollups, period))


def projection_from(lines: list[UsageLine], now: datetime) -> Projection:
    """The projection when `lines` already are the current period's usage."""
    return Projection(period=billing_period(now), now=now, lines=lines)
