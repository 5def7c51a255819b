"""Budgets: monthly spending limits that stop spending at the source.

An organization's budget covers all its capabilities or one of them; its
action is `stop` (the default) or `alert`. Platform finance and IT admins can
set a platform cap the organization cannot change. What is enforced:

- **Spent** is the period's priced usage (unit price x quantity, summed
  exactly) of what the budget covers. Each job's usage is charged to the
  budgets that cover it in the same statement that records the usage
  (`charge_ctes`, inside `metering.ledger.append_if`): a job's usage and its
  charge commit together or not at all, and a retried job (whose usage is
  already in the ledger) charges nothing. Usage that does not come from jobs
  (API calls, corrections) is added by `recompute`, which sets the counters
  from the rollups every minute (beat) and after any change of a budget.
- **In flight** is the estimate of what the running jobs will cost: the
  number of running jobs the budget covers times its mean job cost this
  period (`job_spent / jobs_charged`).
- **The stop**: a `stop` budget is reached when spent + in flight >= amount.
  The job runner's claim (one statement, capabilities.gate.budget_condition)
  then refuses to start any queued job it covers, with the code
  `budget_exhausted`, and bills nothing; `start_job`, the jobs API and the
  capability's metered API answer 402 `budget_exhausted`. Running jobs finish
  and are billed.
- **Bounded overshoot**: the claim admits a job only while spent + in flight
  < amount. Spent grows only when admitted jobs finish (and by metered API
  calls until the next page of the snapshot sees the stop), so once the
  budget is reached no job starts, and the final spend exceeds the amount by
  at most what the jobs already running at that moment cost beyond their
  estimate (at most the number of workers x the dearest job). The claim sees
  a raised budget or a new period at once, `start_job` and the API within the
  toggles' bound (capabilities.gate: a snapshot trusted for 0.5 s).
- **Alerts**: at each threshold (default 50 %, 80 %, 100 %) of the amount,
  one alert per budget, threshold and period (`portal.alerts`, keyed
  `budget:<id>:<threshold>:<YYYY-MM>`), whatever number of workers cross it
  at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from metering import meter_prices
from metering.models import Budget, UsageMonthlyRollup
from metering.periods import billing_period
from portal.alerts import raise_alert
from portal.models import Alert, Organization

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = (50, 80, 100)
# Seconds the meter prices are trusted on the job's path (a price change is
# charged by jobs within this long; `recompute` always reads them fresh).
PRICE_CACHE_SECONDS = 10.0


def period_start(at: datetime) -> date:
    """The first day of the billing period (calendar month, UTC) holding `at`."""
    return billing_period(at).start.date()


# --- prices on the job's path ---------------------------------------------------------

_prices_lock = threading.Lock()
_prices: tuple[float, dict[str, list[tuple[str, Decimal]]]] | None = None


def _unit_prices() -> dict[str, list[tuple[str, Decimal]]]:
    """(meter, unit price) of each capability's meters, cached for PRICE_CACHE_SECONDS."""
    global _prices
    now = time.monotonic()
    cached = _prices
    if cached is not None and now - cached[0] < PRICE_CACHE_SECONDS:
        return cached[1]
    with _prices_lock:
        by_capability: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
        for info in meter_prices.meters():
            by_capability[info.capability].append((info.meter, info.unit_price))
        _prices = (now, dict(by_capability))
        return _prices[1]


def forget_prices() -> None:
    """Drop this process's cached prices (tests, and after a price change)."""
    global _prices
    _prices = None


# --- the charge: part of the job result's statement --------------------------------------


@dataclass(frozen=True)
class Charged:
    """A budget's counters after a job's usage was charged to it."""

    budget_id: int
    organization_id: int
    capability: str | None
    amount: Decimal
    action: str
    thresholds: list[int]
    period_start: date
    spent: Decimal  # after the charge
    cost: Decimal  # of this job's new usage

    @property
    def spent_before(self) -> Decimal:
        return self.spent - self.cost


def charge_ctes(organization_id: int, capability: str, at: datetime) -> tuple[str, list[Any]]:
    """SQL to append to the CTEs of `metering.ledger.append_if` (after its
    `inserted` and `monthly`): the priced cost of the events it inserted,
    added to the counters of the organization's budgets that cover
    `capability`, in this period; a CTE `charged` returns the charged budgets.
    Events a retry did not insert (their keys were known) cost nothing, so a
    job is charged once. Budget rows are locked after the rollups, in the
    statement's fixed order; concurrent charges of one organization queue on
    its budget rows (only organizations with budgets pay this)."""
    prices = _unit_prices().get(capability) or [("", Decimal(0))]
    values = ", ".join(["(%s::varchar, %s::numeric)"] * len(prices))
    params: list[Any] = []
    for meter, unit_price in prices:
        params.extend([meter, unit_price])
    start = period_start(at)
    params.extend([start, start, start, start, organization_id, capability])
    sql = f""", charge_prices (meter, unit_price) AS (VALUES {values}),
        charge_cost AS (
            SELECT coalesce(sum(inserted.quantity * charge_prices.unit_price), 0) AS amount
            FROM inserted JOIN charge_prices ON charge_prices.meter = inserted.meter
        ), charged AS (
            UPDATE metering_budget AS budget SET
                spent = CASE WHEN budget.period_start = %s THEN budget.spent ELSE 0 END
                    + (SELECT amount FROM charge_cost),
                job_spent = CASE WHEN budget.period_start = %s THEN budget.job_spent ELSE 0 END
                    + (SELECT amount FROM charge_cost),
                jobs_charged = CASE WHEN budget.period_start = %s THEN budget.jobs_charged ELSE 0 END + 1,
                period_start = %s
            WHERE budget.organization_id = %s
              AND (budget.capability IS NULL OR budget.capability = %s)
              AND EXISTS (SELECT FROM inserted) AND (SELECT count(*) FROM monthly) > 0
            RETURNING budget.id, budget.organization_id, budget.capability, budget.amount, budget.action,
                      budget.thresholds, budget.period_start, budget.spent,
                      (SELECT amount FROM charge_cost) AS cost
        )"""  # noqa: S608  # placeholders only
    return sql, params


def charged_rows(rows: Iterable[tuple[Any, ...]]) -> list[Charged]:
    found = []
    for budget_id, org_id, capability, amount, action, thresholds, start, spent, cost in rows:
        if isinstance(thresholds, str):
            thresholds = json.loads(thresholds)
        found.append(
            Charged(
                budget_id=budget_id,
                organization_id=org_id,
                capability=capability,
                amount=Decimal(amount),
                action=action,
                thresholds=list(thresholds or []),
                period_start=start,
                spent=Decimal(spent),
                cost=Decimal(cost),
            )
        )
    return found


# Called with the organization id when a stop budget may have been reached or
# lifted (capabilities.gate registers its version bump: start_job and the API
# then see it at once rather than within the snapshot's bound).
_on_stop_change: list[Callable[[int], None]] = []


def on_stop_change(callback: Callable[[int], None]) -> None:
    _on_stop_change.append(callback)


def _stop_changed(organization_id: int) -> None:
    for callback in _on_stop_change:
        callback(organization_id)


def announce(organization_id: int) -> None:
    """Tell every process that the organization's budgets changed (a stop
    may have been reached or lifted)."""
    _stop_changed(organization_id)


def after_charge(charged: Iterable[Charged]) -> None:
    """What a job's charge crossed, after its statement committed: an alert
    for each threshold crossed (one per budget, threshold and period, by its
    key), and the stop announced when a stop budget's spend reached its
    amount. A crash before this runs loses nothing: `recompute` (every minute)
    raises the alerts of every threshold reached."""
    for line in charged:
        crossed = [
            percent
            for percent in line.thresholds
            if line.spent_before < _share(line.amount, percent) <= line.spent
        ]
        if crossed:
            budget = Budget.objects.select_related("organization").filter(pk=line.budget_id).first()
            if budget is not None:
                with transaction.atomic():
                    for percent in crossed:
                        _alert(budget, percent, line.period_start)
        if line.action == Budget.Action.STOP and line.spent_before < line.amount <= line.spent:
            _stop_changed(line.organization_id)


def _share(amount: Decimal, percent: int) -> Decimal:
    return amount * Decimal(percent) / Decimal(100)


# --- recompute from the rollups ------------------------------------------------------


def committed_spend(organization_id: int, capability: str | None, start: date) -> Decimal:
    """The exact priced usage of the period starting `start` that `capability`
    (None: every capability) covers, from the monthly rollups, at today's prices."""
    rows = UsageMonthlyRollup.objects.filter(organization_id=organization_id, month=start)
    if capability is not None:
        rows = rows.filter(capability=capability)
    prices = meter_prices.lookup()
    total = Decimal(0)
    for row in rows.values("capability", "meter").annotate(total=Sum("quantity")).order_by():
        info = prices.get((row["capability"], row["meter"]))
        if info is not None:
            total += info.unit_price * int(row["total"])
    return total


def recompute(organization: Organization | int | None = None, *, now: datetime | None = None) -> int:
    """Set the counters of the organization's budgets (None: every budget)
    from the rollups of the current period, and raise the alerts of every
    threshold reached (once each, by key). Each budget in a transaction of
    its own: its row is locked first, then its usage read, so a job's charge
    that commits meanwhile is neither lost nor counted twice (it waits for
    the lock and adds to the new figure). Returns how many budgets it set."""
    now = now or timezone.now()
    start = period_start(now)
    budgets = Budget.objects.all()
    if organization is not None:
        org_id = organization if isinstance(organization, int) else organization.pk
        budgets = budgets.filter(organization_id=org_id)
    stops_changed: set[int] = set()
    count = 0
    for budget_id in budgets.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            budget = (
                Budget.objects.select_for_update().select_related("organization").filter(pk=budget_id).first()
            )
            if budget is None:
                continue
            was_stopped = _stopped(budget, start)
            if budget.period_start != start:
                budget.job_spent, budget.jobs_charged = Decimal(0), 0
            budget.period_start = start
            budget.spent = committed_spend(budget.organization_id, budget.capability, start)
            budget.save(update_fields=["period_start", "spent", "job_spent", "jobs_charged"])
            for percent in budget.thresholds:
                if budget.spent >= _share(budget.amount, percent):
                    _alert(budget, percent, start)
            if was_stopped != _stopped(budget, start):
                stops_changed.add(budget.organization_id)
            count += 1
    for org_id in stops_changed:
        _stop_changed(org_id)
    return count


def _stopped(budget: Budget, start: date) -> bool:
    """The counters say a stop budget is reached (without what is in flight)."""
    return (
        budget.action == Budget.Action.STOP and budget.period_start == start and budget.spent >= budget.amount
    )


# --- alerts --------------------------------------------------------------------------


def scope_name(capability: str | None) -> str:
    """ "all capabilities" or the capability's title, for people."""
    if capability is None:
        return "all capabilities"
    titles = {info.capability: info.capability_title for info in meter_prices.meters()}
    return titles.get(capability, capability)


def money(amount: Decimal, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    figure = f"{amount.quantize(Decimal('0.01')):,}"
    return f"{symbol}{figure}" if symbol else f"{figure} {currency.upper()}"


def _alert(budget: Budget, percent: int, start: date) -> Alert | None:
    kind = "platform cap" if budget.platform else "budget"
    scope = scope_name(budget.capability)
    limit = money(budget.amount, budget.currency)
    spent = money(budget.spent, budget.currency)
    month = f"{start:%B %Y}"
    if percent >= 100 and budget.action == Budget.Action.STOP:
        title = f"The monthly {kind} for {scope} is used up"
        message = (
            f"{budget.organization.name} has spent {spent} of its {limit} {kind} for {scope} in {month}. "
            f"New jobs and metered API calls of {scope} are stopped until the {kind} is raised "
            "or the month ends; jobs already running finish and are billed."
        )
        level = Alert.Level.DANGER
    else:
        title = f"{percent} % of the monthly {kind} for {scope} used"
        message = (
            f"{budget.organization.name} has spent {spent} of its {limit} {kind} for {scope} in {month}."
        )
        level = Alert.Level.WARNING if percent >= 80 else Alert.Level.INFO
    return raise_alert(
        budget.organization,
        key=f"budget:{budget.pk}:{percent}:{start:%Y-%m}",
        kind=Alert.Kind.BUDGET,
        level=level,
        title=title,
        message=message,
        url="/usage/",
        data={
            "budget_id": budget.pk,
            "capability": budget.capability,
            "threshold": percent,
            "amount": str(budget.amount),
            "spent": str(budget.spent.quantize(Decimal("0.01"))),
            "currency": budget.currency,
            "period": f"{start:%Y-%m}",
            "platform": budget.platform,
        },
    )


def budgets_of(organization: Organization) -> QuerySet[Budget]:
    return Budget.objects.filter(organization=organization)


# --- what pages and the API show -------------------------------------------------------

# What the running jobs of each budget of an organization will cost, by
# budget id (the capabilities framework registers it: metering does not read
# jobs).
_in_flight: list[Callable[[int], dict[int, Decimal]]] = []


def register_in_flight(source: Callable[[int], dict[int, Decimal]]) -> None:
    _in_flight[:] = [source]


def in_flight(organization_id: int) -> dict[int, Decimal]:
    return _in_flight[0](organization_id) if _in_flight else {}


class State:
    OK = "ok"
    ALERTED = "alerted"
    STOPPED = "stopped"


@dataclass(frozen=True)
class BudgetStatus:
    """A budget as its organization sees it this period."""

    budget: Budget
    spent: Decimal  # the period's cost of what it covers, as /usage/ shows it (invoice rounding)
    in_flight: Decimal  # what its running jobs are expected to cost
    projected: Decimal  # the period's cost if usage goes on at the same pace
    period_label: str

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.budget.amount - self.spent - self.in_flight)

    @property
    def reached_thresholds(self) -> list[int]:
        return [
            percent for percent in self.budget.thresholds if self.spent >= _share(self.budget.amount, percent)
        ]

    @property
    def state(self) -> str:
        if self.budget.action == Budget.Action.STOP and self.spent + self.in_flight >= self.budget.amount:
            return State.STOPPED
        return State.ALERTED if self.reached_thresholds else State.OK

    def percent(self, figure: Decimal) -> int:
        """`figure` as a share of the amount, for bars (0 to 100)."""
        if self.budget.amount <= 0:
            return 100 if figure > 0 else 0
        return int(min(Decimal(100), figure * 100 / self.budget.amount))

    @property
    def spent_percent(self) -> int:
        return self.percent(self.spent)

    @property
    def in_flight_percent(self) -> int:
        return max(0, min(100 - self.spent_percent, self.percent(self.in_flight)))

    @property
    def projected_percent(self) -> int:
        return self.percent(self.projected)

    @property
    def locked(self) -> bool:
        return self.budget.platform


def statuses(organization: Organization, *, now: datetime | None = None) -> list[BudgetStatus]:
    """The organization's budgets with this period's figures: the total first,
    then by capability; platform caps beside the organization's own (two
    queries: the period's usage and the running jobs' estimate)."""
    from metering.queries.usage import organization_rollups, projection

    now = now or timezone.now()
    found = list(Budget.objects.filter(organization=organization))
    if not found:
        return []
    current = projection(organization_rollups(organization), now)
    fraction = current.elapsed_fraction
    running = in_flight(organization.pk)
    result = []
    for budget in found:
        lines = [line for line in current.lines if budget.capability in (None, line.capability)]
        spent = sum((line.amount for line in lines if line.currency == budget.currency), Decimal(0))
        projected = spent / fraction if fraction > 0 else spent
        result.append(
            BudgetStatus(
                budget=budget,
                spent=spent,
                in_flight=running.get(budget.pk, Decimal(0)),
                projected=projected.quantize(Decimal("0.01")),
                period_label=current.period.label,
            )
        )
    result.sort(
        key=lambda status: (
            status.budget.capability is not None,
            scope_name(status.budget.capability),
            not status.budget.platform,
        )
    )
    return result


def currency() -> str:
    """The currency budgets are kept in: the prices' (the most common one)."""
    counts: dict[str, int] = defaultdict(int)
    for info in meter_prices.meters():
        counts[info.currency] += 1
    return max(counts, key=lambda key: counts[key]) if counts else "usd"


def covered_capabilities() -> dict[str, str]:
    """The capabilities a budget can cover: key -> title."""
    return {info.capability: info.capability_title for info in meter_prices.meters()}
