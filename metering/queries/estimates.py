"""What a capability would cost an organization a month, shown before it is
switched on: from the organization's own use of it over the last 30 whole
days, else from the median of organizations of similar activity, else no
estimate.

The rules, and why:
- **The window** is the last 30 whole UTC days (yesterday and the 29 before),
  read from the daily rollup: 30 days reads as "a month", follows the current
  pace of use (a month-by-month mean would lag a ramp-up by weeks), and whole
  days make the daily rollup exact.
- **Priced at today's prices** (`metering.meter_prices`), each meter's line
  rounded as an invoice rounds it (`meter_prices.line_amount`): the same
  figure `/usage/` would show for those 30 days.
- **Own history** counts when any of the capability's meters has a positive
  total in the window (corrections included).
- **Peers**: another organization is of similar activity when its priced usage
  of every capability over the window, in the estimate's currency, lies
  between a third of this organization's and three times it; below
  `QUIET_FLOOR` (an organization with little or no use) the upper bound is
  three times the floor, so a newcomer compares with other small users. The
  estimate is the median of the peers' costs of the capability, only when at
  least `MIN_PEERS` of them used it: a single organization's figure is never
  shown alone.

Two queries for every capability of an organization, whatever the number of
organizations: one for its own lines, one for the peers' medians, both
grouped in the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from django.db import connection
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone

from metering import meter_prices
from metering.models import UsageDailyRollup
from metering.periods import Period, days_period
from metering.queries.finance import line_amount_sql, meter_price_expressions
from metering.queries.sources import Source
from metering.queries.usage import usage_by_meter
from portal.models import Organization

WINDOW_DAYS = 30
MIN_PEERS = 5
PEER_FACTOR = 3
QUIET_FLOOR = Decimal(10)  # in the currency's major unit: $10 over 30 days

Basis = Literal["own_history", "peers"]


@dataclass(frozen=True)
class Estimate:
    """A capability's monthly cost for one organization, rounded to the
    currency's minor unit; `monthly` is None when there is no estimate yet."""

    monthly: Decimal | None
    currency: str
    basis: Basis | None
    peers: int = 0  # how many organizations the median is of (basis "peers")
    period: Period | None = None  # the days it was read from


def window(now: datetime) -> Period:
    """The last `WINDOW_DAYS` whole UTC days before `now`'s day."""
    today = now.astimezone(UTC).date()
    return days_period(today - timedelta(days=WINDOW_DAYS), today - timedelta(days=1))


def estimate(organization: Organization, capability: str, *, now: datetime | None = None) -> Estimate:
    """`capability`'s monthly estimate for `organization` (at most two queries)."""
    return estimates(organization, [capability], now=now)[capability]


def estimates(
    organization: Organization, capabilities: Iterable[str], *, now: datetime | None = None
) -> dict[str, Estimate]:
    """The monthly estimate of each of `capabilities` for `organization`: one
    query for its own use, one more for the peers of those it has not used."""
    keys = list(dict.fromkeys(capabilities))
    period = window(now or timezone.now())
    currencies = _currencies()
    own = _own_history(organization, period)
    found: dict[str, Estimate] = {}
    for key in keys:
        currency = currencies.get(key, "usd")
        if key in own and own[key][1] == currency:
            found[key] = Estimate(_rounded(own[key][0], currency), currency, "own_history", period=period)
    missing = [key for key in keys if key not in found]
    medians = _peer_medians(organization, missing, period) if missing else {}
    for key in missing:
        currency = currencies.get(key, "usd")
        median = medians.get((key, currency))
        if median is None or median[0] < MIN_PEERS:
            found[key] = Estimate(None, currency, None)
        else:
            found[key] = Estimate(
                _rounded(median[1], currency), currency, "peers", peers=median[0], period=period
            )
    return found


def _currencies() -> dict[str, str]:
    """Each priced capability's currency (that of its first meter)."""
    found: dict[str, str] = {}
    for info in meter_prices.meters():
        found.setdefault(info.capability, info.currency)
    return found


def _rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(meter_prices.minor_unit(currency), rounding=ROUND_HALF_UP)


def _own_history(organization: Organization, period: Period) -> dict[str, tuple[Decimal, str]]:
    """Cost and currency of each capability `organization` used in `period`,
    as `/usage/` prices it: the sum of its rounded meter lines (one query). A
    capability whose meters span currencies has no figure (they don't add up)."""
    rollups = Source(UsageDailyRollup.objects.filter(organization=organization), "day")
    costs: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    used: set[str] = set()
    for line in usage_by_meter(rollups, period):
        costs[line.capability][line.currency] += line.amount
        if line.quantity > 0:
            used.add(line.capability)
    found = {}
    for key, amounts in costs.items():
        if key in used and len(amounts) == 1:
            ((currency, amount),) = amounts.items()
            found[key] = (amount, currency)
    return found


def _peer_medians(
    organization: Organization, capabilities: list[str], period: Period
) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """(capability, currency) -> (number of peers who used it, the median of
    their costs) for the organizations of similar activity (one query).

    The median is exact in numeric: the mean of the lower and upper middle
    values (`percentile_disc` ascending and descending), since
    `percentile_cont` works in floating point."""
    price, currency = meter_price_expressions()
    lines = (
        UsageDailyRollup.objects.filter(day__gte=period.start.date(), day__lt=period.end.date())
        .values("organization_id", "capability", "meter")
        .annotate(quantity_total=Sum("quantity"))
        .annotate(
            currency=currency,
            revenue=ExpressionWrapper(
                F("quantity_total") * price, output_field=DecimalField(max_digits=36, decimal_places=9)
            ),
        )
        .annotate(amount=line_amount_sql(F("revenue")))
        .order_by()
    )
    sql, params = lines.query.sql_with_params()
    statement = f"""
        WITH lines AS ({sql}),
        activity AS (
            SELECT organization_id, currency, SUM(amount) AS spent
            FROM lines GROUP BY organization_id, currency
        ),
        own AS (
            SELECT currency, SUM(spent) AS spent FROM activity
            WHERE organization_id = %s GROUP BY currency
        ),
        used AS (
            SELECT organization_id, capability, currency, SUM(amount) AS cost
            FROM lines WHERE capability = ANY(%s) AND organization_id <> %s
            GROUP BY organization_id, capability, currency
            HAVING MAX(quantity_total) > 0
        )
        SELECT used.capability, used.currency, COUNT(*),
               (percentile_disc(0.5) WITHIN GROUP (ORDER BY used.cost)
                + percentile_disc(0.5) WITHIN GROUP (ORDER BY used.cost DESC)) / 2
        FROM used
        JOIN activity ON activity.organization_id = used.organization_id
            AND activity.currency = used.currency
        LEFT JOIN own ON own.currency = used.currency
        WHERE activity.spent >= COALESCE(own.spent, 0) / %s
          AND activity.spent <= GREATEST(COALESCE(own.spent, 0), %s) * %s
        GROUP BY used.capability, used.currency
    """  # noqa: S608 (the inner query is Django's, its values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [
                *params,
                organization.pk,
                capabilities,
                organization.pk,
                PEER_FACTOR,
                QUIET_FLOOR,
                PEER_FACTOR,
            ],
        )
        return {
            (capability, currency): (int(count), Decimal(median))
            for capability, currency, count, median in cursor.fetchall()
        }
