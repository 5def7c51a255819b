"""Read models of finance's pages, across every organization: usage and
revenue by organization and meter, the finance dashboard (priced and ranked
in the database, on the coarsest rollup that answers each panel exactly), the
search of organizations and the recent corrections."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Round

from metering import meter_prices
from metering.models import (
    EventKind,
    PlatformDailyUsage,
    PlatformUsageDay,
    UsageDailyRollup,
    UsageEvent,
    UsageRollup,
)
from metering.moments import midnight
from metering.periods import HOUR, Period
from metering.queries.sources import Scope, Source, aligned, best_source, in_period
from metering.queries.usage import PriceList, Trend, UsageLine, sorted_lines, usage_by_meter, usage_over_time
from portal.models import Organization


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
        in_period(rollups, period)
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
        and aligned(period.start, "day")
        and aligned(period.end, "day")
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


class MeterValue(Func):
    """The row's (capability, meter) looked up in a JSON object of
    {capability: {meter: value}}, sent as one parameter, or `default` for a
    meter it doesn't name: `(%s::jsonb -> capability ->> meter)`.

    It was a CASE with a branch per meter (32 of them): each use of the price
    (the unit price, the revenue, its rounding, and again in GROUP BY) repeated
    all the branches, so the organization lines' statement took 391 parameters
    and 15 kB of SQL, and Django built it in about 9 ms per compile, three
    compiles per finance page."""

    def __init__(self, values: dict[str, dict[str, str]], default: Any, cast: str, output_field: Any) -> None:
        super().__init__(F("capability"), F("meter"), output_field=output_field)
        self.values = json.dumps(values, sort_keys=True)
        self.default = default
        self.cast = cast

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:  # type: ignore[override]  # the stubs type params as str | int
        (capability, capability_params), (meter, meter_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        sql = f"COALESCE((%s::jsonb -> {capability} ->> {meter})::{self.cast}, %s)"
        return sql, [self.values, *capability_params, *meter_params, self.default]

    def get_group_by_cols(self) -> list[Any]:
        # Nothing of its own: it depends only on the row's capability and meter,
        # which every query pricing lines groups by. Grouped by, it was computed
        # for every rollup row instead of once per line.
        return []


def meter_price_expressions() -> tuple[MeterValue, MeterValue]:
    """Each (capability, meter)'s unit price and currency as SQL expressions, so
    the database prices and ranks rows without sending them all here. Of a
    meter listed twice, the first listing counts."""
    prices: dict[str, dict[str, str]] = {}
    currencies: dict[str, dict[str, str]] = {}
    for info in meter_prices.meters():
        prices.setdefault(info.capability, {}).setdefault(info.meter, str(info.unit_price))
        currencies.setdefault(info.capability, {}).setdefault(info.meter, info.currency)
    price = MeterValue(prices, Decimal(0), "numeric", DecimalField(max_digits=24, decimal_places=9))
    currency = MeterValue(currencies, "usd", "text", CharField())
    return price, currency


def line_amount_sql(revenue: Any) -> Round:
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
    price, currency = meter_price_expressions()
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
        .annotate(amount=line_amount_sql(F("revenue")))
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
    return sorted_lines(
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
