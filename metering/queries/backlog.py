"""The ledger's backlog, for billing's push backlog and the health pages:
usage beyond what another room counted of it, the oldest hour with usage,
and the API calls not yet moved to the ledger."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet, Sum
from redis.exceptions import RedisError

from metering.api_calls import LAST_MOVE
from metering.models import ApiCallCount, UsageDailyRollup, UsageRollup
from metering.moments import midnight
from metering.periods import DAY


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
    calls = ApiCallCount.objects.filter(calls__gt=F("moved")).aggregate(total=Sum(F("calls") - F("moved")))
    try:
        last_move = cache.get(LAST_MOVE)
    except RedisError:  # the cache is away: the health page shows what the database knows
        last_move = None
    return ApiCallsWaiting(calls["total"] or 0, last_move)
