"""Read models of the usage pages, the finance dashboard and the usage API.

Every figure comes from the hourly rollups, never the raw ledger: one GROUP BY
in the database per panel, priced afterwards per (capability, meter) from the
meter prices, so a panel costs one query whatever the number of events.
Periods are half-open UTC intervals aligned to hours; billing periods are
calendar months starting 00:00 UTC on the 1st.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, models, transaction
from django.db.models import (
    Case,
    CharField,
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Round, TruncDay
from redis.exceptions import RedisError

from metering import meter_prices
from metering.models import (
    EventKind,
    PlatformDailyUsage,
    PlatformUsageDay,
    UsageDailyRollup,
    UsageEvent,
    UsageMonthlyRollup,
    UsageRollup,
)
from metering.moments import hour_of, midnight
from portal.models import Organization

# Who may read an organization's usage and costs: the page, the CSV and the API.

DASH = " \N{EN DASH} "
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


# --- periods ---------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) of UTC time."""

    start: datetime
    end: datetime

    @property
    def last_day(self) -> date:
        """The last day the period touches (its end is exclusive)."""
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def bucket(self) -> timedelta:
        """The bar width of a chart over this period: hours up to two days, else days."""
        return HOUR if self.end - self.start <= 2 * DAY else DAY

    def buckets(self) -> list[datetime]:
        step = self.bucket
        first = self.start if step == HOUR else midnight(self.start.date())
        found = []
        moment = first
        while moment < self.end:
            found.append(moment)
            moment += step
        return found

    @property
    def label(self) -> str:
        """Its days, e.g. "1 Nov 2026 to 30 Nov 2026" (with an en dash), and its
        hours when it does not start at midnight."""
        if self.start.time() == time.min and self.end.time() == time.min:
            first, last = _day_text(self.start.date()), _day_text(self.last_day)
            return first if first == last else f"{first}{DASH}{last}"
        start = f"{_day_text(self.start.date())} {self.start:%H:%M}"
        return f"{start}{DASH}{_day_text(self.end.date())} {self.end:%H:%M} UTC"


def _day_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def billing_period(at: datetime) -> Period:
    """The calendar month (UTC) that contains `at`."""
    moment = at.astimezone(UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


def days_period(first: date, last: date) -> Period:
    """Whole UTC days from `first` to `last`, both included."""
    return Period(midnight(first), midnight(last) + DAY)


RANGES = {"day": "Last 24 hours", "week": "Last 7 days", "month": "This month", "custom": "Custom"}


def period_for(
    range_key: str, now: datetime, *, first: date | None = None, last: date | None = None
) -> Period:
    """The period a range selector means at `now`: the last 24 hours (whole
    hours, the current one included), the last 7 days (today included), the
    current billing period, or custom days."""
    if range_key == "day":
        end = hour_of(now) + HOUR
        return Period(end - DAY, end)
    if range_key == "week":
        today = now.astimezone(UTC).date()
        return days_period(today - timedelta(days=6), today)
    if range_key == "custom":
        if first is None or last is None:
            raise ValueError("A custom range needs its first and last day")
        return days_period(first, last)
    return billing_period(now)


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


@dataclass(frozen=True)
class Source:
    """Rollup rows at one grain: hourly (`hour`), daily (`day`) or monthly
    (`month`), already narrowed to the caller's scope."""

    queryset: QuerySet[Any]
    column: str

    def in_period(self, period: Period) -> QuerySet[Any]:
        if self.column == "hour":
            return self.queryset.filter(hour__gte=period.start, hour__lt=period.end)
        first, last = period.start.astimezone(UTC).date(), period.end.astimezone(UTC).date()
        return self.queryset.filter(**{f"{self.column}__gte": first, f"{self.column}__lt": last})


# A scope narrows any rollup model to what the caller may see and filtered for
# (they share organization, capability and meter fields).
Scope = Callable[[type[models.Model]], QuerySet[Any]]


def _aligned(moment: datetime, unit: str) -> bool:
    moment = moment.astimezone(UTC)
    if moment.hour or moment.minute or moment.second or moment.microsecond:
        return False
    return unit == "day" or moment.day == 1


def best_source(scope: Scope, period: Period, *, by_day: bool = False) -> Source:
    """The coarsest rollup that answers `period` exactly: monthly for whole
    calendar months (billing periods), daily for whole days, else hourly.
    `by_day` asks for rows no coarser than a day (for a chart by day)."""
    if not by_day and _aligned(period.start, "month") and _aligned(period.end, "month"):
        return Source(scope(UsageMonthlyRollup), "month")
    if _aligned(period.start, "day") and _aligned(period.end, "day"):
        return Source(scope(UsageDailyRollup), "day")
    return Source(scope(UsageRollup), "hour")


def _source(rollups: QuerySet[UsageRollup] | Source) -> Source:
    return rollups if isinstance(rollups, Source) else Source(rollups, "hour")


def _in_period(rollups: QuerySet[UsageRollup] | Source, period: Period) -> QuerySet[Any]:
    return _source(rollups).in_period(period)


def _sorted_lines(lines: Iterable[UsageLine]) -> list[UsageLine]:
    return sorted(lines, key=lambda line: (line.capability_title.lower(), line.capability, line.meter))


def usage_by_meter(rollups: QuerySet[UsageRollup] | Source, period: Period) -> list[UsageLine]:
    """Quantity and cost per capability and meter (one query)."""
    rows = (
        _in_period(rollups, period)
        .values("capability", "meter")
        .annotate(total=Sum("quantity"), event_count=Sum("events"))
        .order_by()
    )
    prices = PriceList()
    return _sorted_lines(
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
    source = _source(rollups)
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


def usage_report(rollups: QuerySet[UsageRollup], period: Period, group_by: Sequence[str]) -> list[ReportRow]:
    """Usage grouped by any of capability, meter, day, hour (one query). The
    database groups by capability and meter too, so each row is priced by its
    own meter before the rows are added up to the requested grouping."""
    scoped = _in_period(rollups, period)
    fields = ["capability", "meter"]
    if "day" in group_by:
        scoped = scoped.annotate(day=TruncDay("hour", tzinfo=UTC))
        fields.append("day")
    if "hour" in group_by:
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


# --- finance: every organization -----------------------------------------------------


@dataclass(frozen=True)
class OrganizationLine:
    """Usage of one meter by one organization, priced."""

    organization_id: int
    organization_slug: str
    organization_name: str
    line: UsageLine

    @property
    def revenue(self) -> Decimal:
        return self.line.cost


@dataclass(frozen=True)
class OrganizationRevenue:
    organization_id: int
    slug: str
    name: str
    revenue: dict[str, Decimal]

    @property
    def sort_key(self) -> Decimal:
        return sum(self.revenue.values(), Decimal(0))


def usage_by_organization(rollups: QuerySet[UsageRollup] | Source, period: Period) -> list[OrganizationLine]:
    """Quantity and revenue per organization, capability and meter (one query),
    highest revenue first."""
    rows = (
        _in_period(rollups, period)
        .values("organization_id", "capability", "meter")
        .annotate(total=Sum("quantity"), event_count=Sum("events"))
        .order_by()
    )
    prices = PriceList()
    grouped = [
        (
            row["organization_id"],
            prices.line(row["capability"], row["meter"], int(row["total"]), int(row["event_count"])),
        )
        for row in rows
    ]
    # Names in a second query: grouping by the organization id alone keeps the
    # GROUP BY narrow, and the lookup is bounded by the number of organizations.
    organizations = {
        pk: (slug, name)
        for pk, slug, name in Organization.objects.filter(
            pk__in={org_id for org_id, _ in grouped}
        ).values_list("pk", "slug", "name")
    }
    lines = [OrganizationLine(org_id, *organizations.get(org_id, ("", "")), line) for org_id, line in grouped]
    return sorted(
        lines,
        key=lambda item: (
            -item.revenue,
            item.organization_name.lower(),
            item.line.capability,
            item.line.meter,
        ),
    )


def top_organizations(lines: Sequence[OrganizationLine], limit: int = 10) -> list[OrganizationRevenue]:
    """The organizations with the highest revenue among `lines`, each line
    rounded as its invoice rounds it (no query)."""
    by_org: dict[int, OrganizationRevenue] = {}
    for item in lines:
        found = by_org.get(item.organization_id)
        if found is None:
            found = by_org[item.organization_id] = OrganizationRevenue(
                item.organization_id, item.organization_slug, item.organization_name, defaultdict(Decimal)
            )
        found.revenue[item.line.currency] += item.line.amount
    ranked = sorted(by_org.values(), key=lambda org: (-org.sort_key, org.name.lower()))
    return [org for org in ranked[:limit] if org.sort_key > 0]


@dataclass(frozen=True)
class FinanceDashboard:
    """Every panel of the finance dashboard."""

    period: Period
    by_meter: list[UsageLine]
    # One row per organization, capability and meter, priced and ranked in the
    # database; lazy, so the page reads one page of it (see `organization_lines`).
    by_organization: QuerySet[Any]
    trend: Trend
    top: list[OrganizationRevenue]
    organization_count: int
    # As invoices add up: every organization's line per meter rounded, then summed.
    totals: dict[str, Decimal]

    @property
    def event_count(self) -> int:
        return sum(line.events for line in self.by_meter)


def finance_dashboard(
    scope: Scope, period: Period, top: int = 10, *, all_organizations: bool = True
) -> FinanceDashboard:
    """The finance dashboard for `scope` (the filters applied to any rollup
    model): a handful of queries, whatever the number of events,
    organizations or days, each on the coarsest rollup that answers it
    exactly: monthly rows for a billing period; for the chart by day across
    all organizations, the platform's daily rows of closed days plus today's
    daily rollups (narrowed to some organizations: their daily rollups)."""
    totals = best_source(scope, period)
    revenue_rows, meter_amounts = _sums_of_lines(totals, period)
    revenue_by_organization = _ranked_revenue(revenue_rows)
    if (
        all_organizations
        and period.bucket != HOUR
        and _aligned(period.start, "day")
        and _aligned(period.end, "day")
    ):
        # The chart's daily rows also answer the by-meter panel.
        days = _platform_days(scope, period)
        trend = usage_over_time([row[:4] for row in days], period)
        by_meter = _lines_of_days(days)
    else:
        trend = usage_over_time(best_source(scope, period, by_day=period.bucket != HOUR), period)
        by_meter = usage_by_meter(totals, period)
    return FinanceDashboard(
        period=period,
        by_meter=[
            replace(line, billed=meter_amounts.get((line.capability, line.meter), Decimal(0)))
            for line in by_meter
        ],
        by_organization=organization_lines(totals, period),
        trend=trend,
        top=revenue_by_organization[:top],
        organization_count=len(revenue_by_organization),
        totals=_totals_of_organizations(revenue_rows),
    )


def _meter_price_cases() -> tuple[Case, Case]:
    """Each (capability, meter)'s unit price and currency as SQL expressions, so
    the database prices and ranks rows without sending them all here."""
    known = meter_prices.meters()
    price = Case(
        *(When(capability=info.capability, meter=info.meter, then=Value(info.unit_price)) for info in known),
        default=Value(Decimal(0)),
        output_field=DecimalField(max_digits=24, decimal_places=9),
    )
    currency = Case(
        *(When(capability=info.capability, meter=info.meter, then=Value(info.currency)) for info in known),
        default=Value("usd"),
        output_field=CharField(),
    )
    return price, currency


def _line_amount_sql(revenue: Any) -> Round:
    """`meter_prices.line_amount` in SQL, for rows annotated with `currency`:
    PostgreSQL's round(numeric, places) rounds half away from zero, which is
    half up for a line's amount."""
    currencies = {info.currency for info in meter_prices.meters()}
    zero_decimal = sorted(code for code in currencies if meter_prices.minor_unit(code) == 1)
    places: Any = (
        Case(When(currency__in=zero_decimal, then=Value(0)), default=Value(2)) if zero_decimal else Value(2)
    )
    return Round(revenue, places, output_field=DecimalField(max_digits=36, decimal_places=9))


def organization_lines(source: Source, period: Period) -> QuerySet[Any]:
    """Quantity and revenue per organization, capability and meter, highest
    revenue first, priced in the database (one query per page read)."""
    price, currency = _meter_price_cases()
    fields = ("organization_id", "organization__slug", "organization__name", "capability", "meter")
    rows = source.in_period(period)
    if source.column == "month" and _months_in(period) == 1:
        # One calendar month of the monthly rollup is already one row per
        # organization, capability and meter: nothing to group.
        lines = rows.values(*fields).annotate(quantity_total=F("quantity"), events_total=F("events"))
    else:
        lines = rows.values(*fields).annotate(quantity_total=Sum("quantity"), events_total=Sum("events"))
    return (
        lines.annotate(
            unit_price=price,
            currency=currency,
            revenue=ExpressionWrapper(
                F("quantity_total") * price, output_field=DecimalField(max_digits=36, decimal_places=9)
            ),
        )
        .annotate(amount=_line_amount_sql(F("revenue")))
        .order_by("-revenue", "organization__name", "capability", "meter")
    )


def _sums_of_lines(
    source: Source, period: Period
) -> tuple[list[tuple[int, str, Decimal]], dict[tuple[str, str], Decimal]]:
    """The rounded organization lines (`organization_lines`) summed per
    organization and currency, and per capability and meter, in the database
    (one query, GROUPING SETS): what each organization's invoice and each
    meter's share of all invoices add up to."""
    sql, params = organization_lines(source, period).order_by().query.sql_with_params()
    statement = (
        "SELECT lines.organization_id, lines.capability, lines.meter, lines.currency, SUM(lines.amount), "  # noqa: S608
        "GROUPING(lines.organization_id) "
        f"FROM ({sql}) AS lines GROUP BY GROUPING SETS "
        "((lines.organization_id, lines.currency), (lines.capability, lines.meter, lines.currency))"
    )
    by_organization: list[tuple[int, str, Decimal]] = []
    by_meter: dict[tuple[str, str], Decimal] = {}
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        for organization_id, capability, meter, currency, amount, meter_row in cursor.fetchall():
            if meter_row:
                by_meter[(capability, meter)] = by_meter.get((capability, meter), Decimal(0)) + Decimal(
                    amount
                )
            else:
                by_organization.append((organization_id, currency, Decimal(amount)))
    return by_organization, by_meter


def _totals_of_organizations(rows: list[tuple[Any, ...]]) -> dict[str, Decimal]:
    """Revenue per currency as the invoices will add it up: each organization's
    line per capability and meter rounded by Stripe's rule, then summed."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for _organization_id, currency, amount in rows:
        totals[currency] += Decimal(amount)
    return dict(sorted(totals.items()))


def _ranked_revenue(rows: list[tuple[Any, ...]]) -> list[OrganizationRevenue]:
    """Every organization with usage and its revenue per currency (its lines
    rounded as its invoice rounds them), highest first (one query for the names)."""
    revenue: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for organization_id, currency, amount in rows:
        revenue[organization_id][currency] += Decimal(amount)
    names = {
        pk: (slug, name)
        for pk, slug, name in Organization.objects.filter(pk__in=list(revenue)).values_list(
            "pk", "slug", "name"
        )
    }
    ranked = sorted(
        (OrganizationRevenue(pk, *names.get(pk, ("", "")), amounts) for pk, amounts in revenue.items()),
        key=lambda org: (-org.sort_key, org.name.lower()),
    )
    return [org for org in ranked if org.sort_key > 0]


def _months_in(period: Period) -> int:
    start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
    return (end.year - start.year) * 12 + end.month - start.month


def _platform_days(scope: Scope, period: Period) -> list[tuple[datetime, str, str, int, int]]:
    """(day, capability, meter, quantity, events) for `period`: built platform
    days from PlatformDailyUsage, the others (today, days not built yet) from
    the daily rollups. Two queries plus one for the built days."""
    first, last = period.start.astimezone(UTC).date(), period.end.astimezone(UTC).date()
    built = set(PlatformUsageDay.objects.filter(day__gte=first, day__lt=last).values_list("day", flat=True))
    every_day = [first + timedelta(days=n) for n in range((last - first).days)]
    rows: list[tuple[datetime, str, str, int, int]] = []
    for model, days in (
        (PlatformDailyUsage, built),
        (UsageDailyRollup, [d for d in every_day if d not in built]),
    ):
        grouped = (
            scope(model)
            .filter(day__in=days)
            .values_list("day", "capability", "meter")
            .annotate(total=Sum("quantity"), count=Sum("events"))
            .order_by()
        )
        rows.extend(
            (midnight(day), capability, meter, int(total), int(count))
            for day, capability, meter, total, count in grouped
        )
    return rows


def _lines_of_days(rows: list[tuple[datetime, str, str, int, int]]) -> list[UsageLine]:
    """Usage per capability and meter summed from daily rows (no query)."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for _day, capability, meter, quantity, events in rows:
        totals[(capability, meter)][0] += quantity
        totals[(capability, meter)][1] += events
    prices = PriceList()
    return _sorted_lines(
        prices.line(cap, meter, quantity, events) for (cap, meter), (quantity, events) in totals.items()
    )


def search_organizations(rollups: QuerySet[UsageRollup], text: str) -> QuerySet[UsageRollup]:
    text = text.strip()
    if not text:
        return rollups
    return rollups.filter(Q(organization__name__icontains=text) | Q(organization__slug__icontains=text))


# --- corrections ----------------------------------------------------------------------


def recent_corrections(limit: int = 50) -> QuerySet[UsageEvent]:
    return (
        UsageEvent.objects.filter(kind=EventKind.CORRECTION)
        .select_related("organization", "created_by")
        .order_by("-recorded_at", "-id")[:limit]
    )


# --- usage beyond another room's count --------------------------------------------------


@dataclass(frozen=True)
class UsageBeyond:
    """Usage the ledger holds beyond what another room counted of it (billing:
    what was sent to Stripe), by organization, meter and UTC day."""

    days: int  # (organization, capability, meter, day) with more usage than counted
    quantity: int  # the units those days hold above their counts
    hours: int  # the hours of those days whose usage is above their count
    organizations: int
    oldest_hour: datetime | None  # the first of those hours


def _day_ranges(start: datetime, end: datetime) -> tuple[date, date, list[tuple[datetime, datetime]]]:
    """[start, end) as whole UTC days [first, last) (read from the daily rollups)
    and two ranges of hours around them (from the hourly ones: a partial first
    and last day; one of them empty when the range lies within one day)."""
    first = midnight((start.astimezone(UTC) - timedelta(microseconds=1)).date() + DAY)
    last = midnight(end.astimezone(UTC).date())
    if first >= last:
        return first.date(), first.date(), [(start, end), (end, end)]
    return first.date(), last.date(), [(start, first), (last, end)]


def usage_beyond(
    counted: QuerySet[Any], *, meters: Collection[tuple[str, str]], start: datetime, end: datetime
) -> UsageBeyond:
    """The usage in [start, end) of `meters` above what `counted` holds for it,
    in one statement whatever the number of rows: per organization, meter and
    UTC day, the rollups' total against the counted quantities' (the day is the
    grain reconciliation settles Stripe at, so a quantity it moved between hours
    of one day is not missing); then, for the days above their count only, the
    hours above theirs (how many and how old).

    `counted` yields (organization_id, capability, meter, hour, quantity) rows,
    any number per hour (they add up), such as a `values_list(...)`; an hour it
    has no row for counts zero. A day counted above the ledger (a correction
    made after counting) offsets no other day."""
    if not meters:
        return UsageBeyond(0, 0, 0, 0, None)
    try:
        counted_sql, counted_params = counted.query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (`hour__in=[]`): nothing counted
        counted_sql, counted_params = "SELECT NULL::bigint, '', '', NULL::timestamptz, 0 WHERE false", ()
    pairs = sorted(meters)
    of_meters = f"({', '.join(['(%s, %s)'] * len(pairs))})"
    meter_params = [value for pair in pairs for value in pair]
    first_day, end_day, ((head_start, head_end), (tail_start, tail_end)) = _day_ranges(start, end)
    hourly, daily = UsageRollup._meta.db_table, UsageDailyRollup._meta.db_table
    midnight = "(outstanding.day::timestamp AT TIME ZONE 'UTC')"
    # Table and column names are constants and `counted` is the ORM's own SQL:
    # every value is a parameter. `counted` is inlined where it is read (NOT
    # MATERIALIZED): read whole once for the days, then only for the hours of
    # the days found (a lookup per hour, by the caller's index).
    sql = f"""
        WITH counted AS NOT MATERIALIZED (
            SELECT organization_id, capability, meter, hour, quantity
            FROM ({counted_sql}) AS counted (organization_id, capability, meter, hour, quantity)
            WHERE hour >= %s AND hour < %s AND (capability, meter) IN {of_meters}
        ), days_beyond AS (
            SELECT organization_id, capability, meter, day, sum(quantity) AS beyond,
                   sum(quantity) FILTER (WHERE is_count) AS counted_total
            FROM (
                SELECT organization_id, capability, meter, day, quantity, false AS is_count FROM {daily}
                WHERE day >= %s AND day < %s AND (capability, meter) IN {of_meters}
                UNION ALL
                SELECT organization_id, capability, meter, (hour AT TIME ZONE 'UTC')::date, quantity, false
                FROM {hourly}
                WHERE ((hour >= %s AND hour < %s) OR (hour >= %s AND hour < %s))
                    AND (capability, meter) IN {of_meters}
                UNION ALL
                SELECT organization_id, capability, meter, (hour AT TIME ZONE 'UTC')::date, -quantity, true
                FROM counted
            ) AS usage_and_counts
            GROUP BY organization_id, capability, meter, day
            HAVING sum(quantity) > 0
        ), hours_beyond AS (
            -- Per day found, its hours by the rollups' index (OFFSET 0 keeps it a
            -- loop over those days, never a pass over every hour); an hour is
            -- looked up in `counted` only if its day was counted at all.
            SELECT hours.hour
            FROM days_beyond AS outstanding CROSS JOIN LATERAL (
                SELECT rollup.hour FROM {hourly} AS rollup
                WHERE rollup.organization_id = outstanding.organization_id
                    AND rollup.capability = outstanding.capability AND rollup.meter = outstanding.meter
                    AND rollup.hour >= {midnight} AND rollup.hour < {midnight} + interval '1 day'
                    AND rollup.hour >= %s AND rollup.hour < %s
                    AND rollup.quantity > CASE WHEN outstanding.counted_total IS NULL THEN 0 ELSE coalesce((
                        SELECT sum(counted.quantity) FROM counted
                        WHERE counted.organization_id = rollup.organization_id
                            AND counted.capability = rollup.capability AND counted.meter = rollup.meter
                            AND counted.hour = rollup.hour
                    ), 0) END
                OFFSET 0
            ) AS hours
        )
        SELECT (SELECT count(*) FROM days_beyond), (SELECT coalesce(sum(beyond), 0) FROM days_beyond),
               (SELECT count(*) FROM hours_beyond), (SELECT count(DISTINCT organization_id) FROM days_beyond),
               (SELECT min(hour) FROM hours_beyond)
    """  # noqa: S608
    params = [
        *counted_params,
        start,
        end,
        *meter_params,
        first_day,
        end_day,
        *meter_params,
        head_start,
        head_end,
        tail_start,
        tail_end,
        *meter_params,
        start,
        end,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        # PostgreSQL costs the second step for as many days found as it imagines,
        # not as there are; past its JIT thresholds compiling can take longer
        # than running (measured on a draft of this statement over 800,000
        # hours: 1.6 s of compiling for 0.3 s of work).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        days, quantity, hours, organizations, oldest = cursor.fetchone()
    return UsageBeyond(int(days), int(quantity), int(hours), int(organizations), oldest)


def oldest_usage_hour(meters: Collection[tuple[str, str]], *, before: datetime) -> datetime | None:
    """The first hour before `before` with usage (above zero) of one of `meters`:
    read along the hour index, which stops at the first such hour."""
    if not meters:
        return None
    of_meters = Q()
    for capability, meter in meters:
        of_meters |= Q(capability=capability, meter=meter)
    return (
        UsageRollup.objects.filter(of_meters, hour__lt=before, quantity__gt=0)
        .order_by("hour")
        .values_list("hour", flat=True)
        .first()
    )


@dataclass(frozen=True)
class ApiCallsWaiting:
    """API calls the web processes have written and beat has not yet moved to the ledger."""

    calls: int
    last_move: datetime | None  # the last run of the move (beat's task), if known


def api_calls_waiting() -> ApiCallsWaiting:
    from django.core.cache import cache

    from metering.api_calls import LAST_MOVE
    from metering.models import ApiCallCount

    calls = ApiCallCount.objects.filter(calls__gt=F("moved")).aggregate(total=Sum(F("calls") - F("moved")))
    try:
        last_move = cache.get(LAST_MOVE)
    except RedisError:  # the cache is away: the health page shows what the database knows
        last_move = None
    return ApiCallsWaiting(calls["total"] or 0, last_move)
