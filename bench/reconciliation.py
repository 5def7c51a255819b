"""Reconciliation of a closed month at scale: 1,000 organizations x 5 priced
meters x every day of the previous calendar month, our ledger's daily rollups
against Stripe's meter event summaries (the offline emulator, in-process, over
HTTP through the official SDK). `reconcile.run` with `grouped_daily_totals`
(one summaries call per organization-meter, grouped by day) against the same
run with `bench.reconciliation.per_day_totals` (one call per day), same data, same emulator.
Target: one summaries call per organization-meter plus pagination.

Data set (built once, reused by later runs of the same month):

- organizations `recon-bench-0001` ... with a BillingAccount each;
- 5 priced meters: the test capabilities' ocr.pages and summaries.summaries
  (priced by default) plus ocr.api_calls, ocr.compute_seconds and
  summaries.api_calls, priced from the period's start by a bench price version;
- one UsageDailyRollup per organization, meter and day (hourly rollups are not
  read for whole settled days), and the periodic push that sent it (a SENT
  UsagePush in the day's first hour), so the run reads a realistic outbox.

Stripe side: the emulator starts empty in every process, so customers (1,000)
and meters (5) are created through the SDK by `billing.sync`. The month's
meter events (one per line, ~155,000) are written straight into the
in-process emulator's store in the shape `meters.create_meter_event` records
(the only thing that bypasses HTTP, and only during setup). The emulator's
clock is set back to the run's `now` (a few hours into the current month;
the control API only moves it forward, so the empty store's offset is set
directly), so the whole previous month is settled and within Stripe's 35-day
event horizon, and the re-pushes are accepted.

A few lines differ on purpose, identically for every run: some events are
missing from Stripe (reconciliation re-pushes them, and the send goes out
through the SDK) and some days hold extra Stripe-only usage (flagged
unexplained). Between runs the re-pushes are undone on both sides (their
UsagePush rows deleted, the events they added removed from the emulator's
store), so every run sees the same data.

The emulator answers without Nagle's delay (it used to stall ~40 ms per
keep-alive response; the bench still sets it on its own server instance) and
finds a customer's events from an index by meter and customer (it used to
walk all ~155,000 stored events, ~13 ms per call). The SDK's per-call INFO
logging is off (settings). The result reports the emulator's lookup time.

The per-day baseline makes ~155,000 calls for the whole set, too long to
repeat; it is measured on a deterministic subset (the first
BASELINE_ORGANIZATIONS organizations; the others' customer ids are blanked for
that run) and extrapolated linearly; `ours` is measured on the subset too, so
the like-for-like ratio is reported beside the extrapolated one.

It is long because a benchmark keeps its data set, its baseline and its
measurement in one file, so a reader can check that both sides answer the
same question on the same data.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from metering.moments import midnight

ORGANIZATIONS = int(os.environ.get("RECON_BENCH_ORGANIZATIONS", "1000"))
BASELINE_ORGANIZATIONS = int(os.environ.get("RECON_BENCH_BASELINE_ORGANIZATIONS", "100"))
RUNS = int(os.environ.get("RECON_BENCH_RUNS", "3"))
SLUG_PREFIX = "recon-bench-"
SUMMARIES_ENDPOINT = "GET /v1/billing/meters/{id}/event_summaries"
SUMMARIES_PAGE_LIMIT = 100  # what stripe_gateway.meter_summaries asks for
BENCH_PRICE_NOTE = "Reconciliation benchmark price"
STATUSES = ("matched", "missing", "excess", "unexplained", "settling")
WEBHOOK_SECRET = "whsec_reconciliation_bench"  # noqa: S105 - the emulator's, never verified here


@dataclass(frozen=True)
class BenchMeter:
    capability: str
    meter: str
    unit_price: Decimal  # the bench's price when the meter is free by default


METERS = (
    BenchMeter("ocr", "pages", Decimal("0.010")),
    BenchMeter("ocr", "api_calls", Decimal("0.0002")),
    BenchMeter("ocr", "compute_seconds", Decimal("0.0001")),
    BenchMeter("summaries", "summaries", Decimal("0.05")),
    BenchMeter("summaries", "api_calls", Decimal("0.0002")),
)

# Deliberate differences, as (organization index, meter index, day index). A
# few of each fall inside the baseline subset (organization index < 100).
MISSING_IN_STRIPE = ((3, 0, 4), (17, 2, 11), (42, 4, 29), (150, 1, 0), (512, 3, 17), (999, 0, 30))
EXTRA_IN_STRIPE = ((8, 1, 9), (64, 3, 22), (333, 4, 5), (777, 2, 14))
EXTRA_QUANTITY = 7


def quantity(org_index: int, meter_index: int, day_index: int) -> int:
    """Our (deterministic) daily total of one line; never zero."""
    return 1 + (org_index * 31 + meter_index * 17 + day_index * 7) % 97


@dataclass
class Period:
    start: datetime
    end: datetime
    now: datetime  # the moment the runs are made "at"

    @property
    def days(self) -> list[date]:
        count = (self.end - self.start).days
        return [self.start.date() + timedelta(days=n) for n in range(count)]


DAY = timedelta(days=1)


def per_day_totals(
    meter: str, customer: str, start: datetime, end: datetime
) -> tuple[dict[date, Decimal], int]:
    """The same totals as `reconcile.grouped_daily_totals`, asked day by day,
    one call each (the benchmark's baseline)."""
    from billing import stripe_gateway as gateway

    totals: dict[date, Decimal] = {}
    calls = 0
    day = start
    while day < end:
        summaries, used = gateway.meter_summaries(
            meter=meter, customer=customer, start=day, end=day + DAY, window="day"
        )
        calls += used
        totals[day.date()] = sum((summary.value for summary in summaries), Decimal(0))
        day += DAY
    return totals, calls


def _period() -> Period:
    """The previous calendar month, reconciled 3 hours into the current one."""
    today = datetime.now(UTC)
    this_month = datetime(today.year, today.month, 1, tzinfo=UTC)
    previous = (this_month - timedelta(days=1)).replace(day=1)
    return Period(previous, this_month, this_month + timedelta(hours=3))


# --- the ledger side --------------------------------------------------------------


def _organizations() -> list[int]:
    from billing.models import BillingAccount
    from portal.models import Organization

    Organization.objects.bulk_create(
        [
            Organization(name=f"Recon Bench {n:04d}", slug=f"{SLUG_PREFIX}{n:04d}")
            for n in range(1, ORGANIZATIONS + 1)
        ],
        ignore_conflicts=True,
    )
    org_ids = list(
        Organization.objects.filter(slug__startswith=SLUG_PREFIX)
        .order_by("slug")
        .values_list("pk", flat=True)[:ORGANIZATIONS]
    )
    BillingAccount.objects.bulk_create(
        [BillingAccount(organization_id=org_id) for org_id in org_ids], ignore_conflicts=True
    )
    return org_ids


def _price_meters(period: Period) -> None:
    """Every bench meter priced above zero in the period (a new price version
    from the period's start for the ones free by default)."""
    from django.db.models import Max

    from billing import price_book
    from billing.models import PriceVersion

    price_book.ensure_defaults()
    in_force = price_book.versions_in_force(period.start)
    for meter in METERS:
        current = in_force.get((meter.capability, meter.meter))
        if current is not None and current.unit_price > 0:
            continue
        last = PriceVersion.objects.filter(capability=meter.capability, meter=meter.meter).aggregate(
            last=Max("version")
        )["last"]
        PriceVersion.objects.create(
            capability=meter.capability,
            meter=meter.meter,
            version=(last or 0) + 1,
            unit_price=meter.unit_price,
            effective_from=period.start,
            note=BENCH_PRICE_NOTE,
        )
    price_book.forget_cached_prices()


def _ledger(org_ids: list[int], period: Period) -> dict[str, Any]:
    """Daily rollups and the pushes that sent them, rebuilt only when they are
    not exactly what the bench expects."""
    from django.db import transaction
    from django.db.models import Count, Sum

    from billing import push as pushes
    from billing.models import UsagePush
    from metering.models import UsageDailyRollup

    # Re-pushes left by an interrupted run would change what the runs see.
    UsagePush.objects.filter(organization_id__in=org_ids, source=UsagePush.Source.RECONCILIATION).delete()
    days = period.days
    lines = len(org_ids) * len(METERS) * len(days)
    expected_total = sum(
        quantity(o, m, d) for o in range(len(org_ids)) for m in range(len(METERS)) for d in range(len(days))
    )
    rollups = UsageDailyRollup.objects.filter(
        organization_id__in=org_ids, day__gte=days[0], day__lte=days[-1]
    )
    sent = UsagePush.objects.filter(
        organization_id__in=org_ids, window_start__gte=period.start, window_start__lt=period.end
    )
    have_rollups = rollups.aggregate(rows=Count("id"), total=Sum("quantity"))
    have_pushes = sent.filter(source=UsagePush.Source.PUSH, status=UsagePush.Status.SENT).aggregate(
        rows=Count("id"), total=Sum("quantity")
    )
    built = {"rebuilt": False, "seconds": 0.0}
    if (have_rollups["rows"], have_rollups["total"]) == (lines, expected_total) and (
        have_pushes["rows"],
        have_pushes["total"],
    ) == (lines, expected_total):
        return built
    start = time.perf_counter()
    new_rollups = []
    new_pushes = []
    for o, org_id in enumerate(org_ids):
        for m, meter in enumerate(METERS):
            for d, day in enumerate(days):
                amount = quantity(o, m, d)
                new_rollups.append(
                    UsageDailyRollup(
                        organization_id=org_id,
                        capability=meter.capability,
                        meter=meter.meter,
                        day=day,
                        quantity=amount,
                        events=1,
                    )
                )
                window = midnight(day)
                new_pushes.append(
                    UsagePush(
                        organization_id=org_id,
                        capability=meter.capability,
                        meter=meter.meter,
                        window_start=window,
                        seq=0,
                        quantity=amount,
                        identifier=pushes.identifier(org_id, meter.capability, meter.meter, window, 0),
                        status=UsagePush.Status.SENT,
                        source=UsagePush.Source.PUSH,
                        created_at=window + timedelta(hours=1, minutes=5),
                        sent_at=window + timedelta(hours=1, minutes=5),
                        attempts=1,
                    )
                )
    with transaction.atomic():
        rollups.delete()
        sent.delete()
        UsageDailyRollup.objects.bulk_create(new_rollups, batch_size=5000)
        UsagePush.objects.bulk_create(new_pushes, batch_size=5000)
    built.update(rebuilt=True, seconds=round(time.perf_counter() - start, 1))
    return built


# --- the Stripe side --------------------------------------------------------------


def _check_no_foreign_billing(org_ids: list[int]) -> None:
    """reconcile.run reads every account with a customer and every synced meter:
    nothing but the bench's may be in the bench database."""
    from billing.models import BillingAccount, StripeMeter

    foreign_accounts = (
        BillingAccount.objects.exclude(stripe_customer_id="")
        .exclude(organization__slug__startswith=SLUG_PREFIX)
        .count()
    )
    ours = {(meter.capability, meter.meter) for meter in METERS}
    foreign_meters = [
        row
        for row in StripeMeter.objects.exclude(stripe_meter_id="")
        if (row.capability, row.meter) not in ours
    ]
    if foreign_accounts or foreign_meters:
        raise SystemExit(
            f"The bench database has {foreign_accounts} other billing account(s) with a Stripe customer "
            f"and {len(foreign_meters)} other synced meter(s); reconciliation would read them too."
        )


def _emulator_clock(server: Any, now: datetime) -> None:
    """The fresh (still empty) emulator's clock at the runs' `now`, which is in
    the past: the control API only moves the clock forward, so the store's
    offset is set directly (setup only, before any object exists)."""
    store = server.store
    with store.lock:
        if store.customers or store.meters or store.meter_events:
            raise RuntimeError("the emulator clock is only moved back on an empty emulator")
        store.offset = now.timestamp() - time.time()


def _stock_request_ms(handle: Any, calls: int = 20) -> float:
    """Milliseconds per small GET on the emulator as it ships, through a client
    of its own (own keep-alive connection)."""
    import stripe

    client = stripe.StripeClient(handle.api_key, base_addresses={"api": handle.url}, max_network_retries=0)
    client.v1.customers.list(params={"limit": 1})
    start = time.perf_counter()
    for _ in range(calls):
        client.v1.customers.list(params={"limit": 1})
    return (time.perf_counter() - start) * 1000 / calls


def _stripe_customers_and_meters(org_ids: list[int]) -> dict[int, str]:
    """Customers and meters on this process's (fresh) emulator, through the SDK."""
    from billing import sync
    from billing.models import BillingAccount, StripeMeter
    from portal.models import Organization

    # Ids saved by an earlier process point at an emulator that is gone.
    BillingAccount.objects.filter(organization__slug__startswith=SLUG_PREFIX).update(stripe_customer_id="")
    StripeMeter.objects.filter(
        capability__in={meter.capability for meter in METERS}, meter__in={meter.meter for meter in METERS}
    ).update(stripe_meter_id="", stripe_product_id="")
    for meter in METERS:
        sync.ensure_meter(meter.capability, meter.meter)
    customers = {}
    for organization in Organization.objects.filter(pk__in=org_ids).order_by("slug"):
        customers[organization.pk] = sync.ensure_customer(organization).stripe_customer_id
    return customers


def _stripe_events(server: Any, org_ids: list[int], customers: dict[int, str], period: Period) -> int:
    """The month's meter events, written into the in-process emulator's store as
    `meters.create_meter_event` records an accepted, counted event (setup only).
    Returns the number of records, the mark the runs' re-pushes are undone to."""
    from billing import push as pushes
    from billing.models import StripeMeter
    from stripe_emulator import objects
    from stripe_emulator.store import MeterEventRecord

    rows = {(row.capability, row.meter): row for row in StripeMeter.objects.all()}
    missing = set(MISSING_IN_STRIPE)
    extra = set(EXTRA_IN_STRIPE)
    store = server.store
    with store.lock:
        for o, org_id in enumerate(org_ids):
            customer = customers[org_id]
            for m, meter in enumerate(METERS):
                row = rows[(meter.capability, meter.meter)]
                for d, day in enumerate(period.days):
                    if (o, m, d) in missing:
                        continue
                    window = midnight(day)
                    amounts = [(pushes.identifier(org_id, meter.capability, meter.meter, window, 0), None)]
                    if (o, m, d) in extra:
                        amounts.append((f"bench-stray-{org_id}-{m}-{d}", EXTRA_QUANTITY))
                    for identifier, value in amounts:
                        amount = quantity(o, m, d) if value is None else value
                        timestamp = int(window.timestamp()) + (0 if value is None else 3600)
                        received = float(timestamp + 3900)
                        payload = {"stripe_customer_id": customer, "value": str(amount)}
                        obj = objects.meter_event(
                            int(received), row.event_name, identifier, payload, timestamp
                        )
                        record = MeterEventRecord(
                            obj, row.stripe_meter_id, customer, amount, timestamp, received, counted=True
                        )
                        store.meter_events.append(record)
                        store.by_identifier[identifier] = record
                        store.counters["meter_events.counted"] += 1
        return len(store.meter_events)


def _undo_repushes(server: Any, org_ids: list[int], mark: int) -> int:
    """Put both sides back as they were before a run: the re-pushes' UsagePush
    rows and the events they added to the emulator. Returns how many events."""
    from billing.models import UsagePush

    UsagePush.objects.filter(organization_id__in=org_ids, source=UsagePush.Source.RECONCILIATION).delete()
    store = server.store
    with store.lock:
        added = store.meter_events[mark:]
        for record in added:
            store.by_identifier.pop(record.obj["identifier"], None)
        del store.meter_events[mark:]
    return len(added)


def _scan_ms(server: Any, customers: dict[int, str]) -> float:
    """Milliseconds the emulator spends finding one customer's events on one
    meter (`meters.visible_records`, from its index by meter and customer),
    measured directly."""
    from stripe_emulator import meters as emulator_meters

    store = server.store
    meter = next(iter(store.meters.values()))
    sample = list(customers.values())[:20]
    with store.lock:
        emulator_meters.visible_records(store, meter, sample[0])  # the index is built on first use
        start = time.perf_counter()
        for customer in sample:
            emulator_meters.visible_records(store, meter, customer)
        return (time.perf_counter() - start) * 1000 / len(sample)


# --- the runs ---------------------------------------------------------------------


@dataclass
class Measured:
    seconds: float
    api_calls: int
    summaries_requests: int  # counted by the emulator
    organizations: int
    statuses: dict[str, int]
    repushed_events: int


def _measure(
    handle: Any, daily_totals: Any, period: Period, org_ids: list[int], mark: int, accounts: int
) -> Measured:
    from billing import reconcile
    from billing.models import ReconciliationRun

    ReconciliationRun.objects.filter(period_start=period.start, triggered_by__isnull=True).delete()
    before = handle.state()["requests_by_endpoint"].get(SUMMARIES_ENDPOINT, 0)
    start = time.perf_counter()
    queued = reconcile.start_run(None, period.start)
    run = reconcile.run(queued.pk, now=period.now, daily_totals=daily_totals)
    seconds = time.perf_counter() - start
    after = handle.state()["requests_by_endpoint"].get(SUMMARIES_ENDPOINT, 0)
    if run.status != ReconciliationRun.Status.DONE:
        raise RuntimeError(f"reconciliation {run.pk} ended {run.status}: {run.error}")
    statuses = {name: getattr(run, name) for name in STATUSES}
    print(f"reconciliation: {accounts} orgs, {run.api_calls} calls, {seconds:.1f} s", file=sys.stderr)
    repushed = _undo_repushes(handle.server, org_ids, mark)
    return Measured(seconds, run.api_calls, after - before, accounts, statuses, repushed)


def _only_customers(customers: dict[int, str], keep: list[int]) -> None:
    """Leave a Stripe customer id on the `keep` organizations' accounts only."""
    from billing.models import BillingAccount

    kept = set(keep)
    accounts = list(BillingAccount.objects.filter(organization_id__in=list(customers)))
    for account in accounts:
        keep_it = account.organization_id in kept
        account.stripe_customer_id = customers[account.organization_id] if keep_it else ""
    BillingAccount.objects.bulk_update(accounts, ["stripe_customer_id"], batch_size=1000)


def run() -> dict[str, Any]:
    from django.conf import settings

    from bench.harness import median, write_result
    from billing import reconcile
    from stripe_emulator.testing import running_emulator

    period = _period()
    org_ids = _organizations()
    _price_meters(period)
    built = _ledger(org_ids, period)
    _check_no_foreign_billing(org_ids)
    subset = org_ids[:BASELINE_ORGANIZATIONS]
    days = len(period.days)
    org_meters = len(org_ids) * len(METERS)

    saved = {
        name: getattr(settings, name)
        for name in (
            "STRIPE_SECRET_KEY",
            "STRIPE_API_BASE",
            "STRIPE_WEBHOOK_SECRET",
            "STRIPE_MAX_NETWORK_RETRIES",
            "BILLING_SETTLING_DELAY",
        )
    }
    # The SDK logs two INFO lines per request and the portal's root logger is at
    # INFO: 300,000+ lines for the baseline. Quiet for the runs, restored after.
    stripe_logger = logging.getLogger("stripe")
    stripe_level = stripe_logger.level
    stripe_logger.setLevel(logging.WARNING)
    with running_emulator(quiet=True) as handle:
        try:
            settings.STRIPE_SECRET_KEY = handle.api_key
            settings.STRIPE_API_BASE = handle.url
            settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
            settings.STRIPE_MAX_NETWORK_RETRIES = 0
            settings.BILLING_SETTLING_DELAY = 3600
            _emulator_clock(handle.server, period.now)
            # The emulator writes a response's headers and its body in two
            # sends; with Nagle's algorithm on, the body waits for the client's
            # delayed ACK (~40 ms) on every keep-alive request. Measured as it
            # ships, then switched off for this server's connections (its own
            # handler class) before the portal's client opens any.
            stock_ms = _stock_request_ms(handle)
            handle.server.httpd.RequestHandlerClass.disable_nagle_algorithm = True
            nodelay_ms = _stock_request_ms(handle)

            setup_start = time.perf_counter()
            customers = _stripe_customers_and_meters(org_ids)
            setup_seconds = time.perf_counter() - setup_start
            start = time.perf_counter()
            mark = _stripe_events(handle.server, org_ids, customers, period)
            events_seconds = time.perf_counter() - start
            scan_ms = _scan_ms(handle.server, customers)

            ours: list[Measured] = []
            ours_subset: list[Measured] = []
            baseline_subset: list[Measured] = []
            for n in range(RUNS):
                _only_customers(customers, org_ids)
                ours.append(
                    _measure(handle, reconcile.grouped_daily_totals, period, org_ids, mark, len(org_ids))
                )
                _only_customers(customers, subset)
                pair = [
                    (ours_subset, reconcile.grouped_daily_totals),
                    (baseline_subset, per_day_totals),
                ]
                for figures, strategy in pair if n % 2 == 0 else reversed(pair):
                    figures.append(_measure(handle, strategy, period, org_ids, mark, len(subset)))
            _only_customers(customers, org_ids)
        finally:
            for name, value in saved.items():
                setattr(settings, name, value)
            stripe_logger.setLevel(stripe_level)

    ours_seconds = median([m.seconds for m in ours])
    subset_ours = median([m.seconds for m in ours_subset])
    subset_baseline = median([m.seconds for m in baseline_subset])
    scale = len(org_ids) / len(subset)
    baseline_seconds = subset_baseline * scale  # linear in organizations: the same work per account
    calls_ours = ours[0].api_calls / org_meters
    calls_baseline = baseline_subset[0].api_calls / (len(subset) * len(METERS))
    pages_needed = -(-days // SUMMARIES_PAGE_LIMIT)
    consistent = all(m.api_calls == m.summaries_requests for m in ours + ours_subset + baseline_subset)
    same_lines = len({tuple(sorted(m.statuses.items())) for m in ours}) == 1 and (
        len({tuple(sorted(m.statuses.items())) for m in ours_subset + baseline_subset}) == 1
    )
    return write_result(
        "reconciliation",
        metric=f"seconds to reconcile {len(org_ids):,} organizations x {len(METERS)} meters for a month",
        unit="s",
        ours=ours_seconds,
        baseline=baseline_seconds,
        baseline_name=f"one meter event summaries call per day ({days} per organization-meter)",
        higher_is_better=False,
        target="1 summaries call per organization-meter plus pagination, using daily grouping",
        runs=RUNS,
        organizations=len(org_ids),
        meters=len(METERS),
        meter_keys=[f"{meter.capability}.{meter.meter}" for meter in METERS],
        period_start=period.start.date().isoformat(),
        days=days,
        run_now=period.now.isoformat(),
        lines=dict(ours[0].statuses, total=sum(ours[0].statuses.values())),
        repushed_events_per_run=ours[0].repushed_events,
        api_calls_per_org_meter_ours=round(calls_ours, 3),
        api_calls_per_org_meter_baseline=round(calls_baseline, 3),
        summaries_requests_seen_by_emulator_ours=ours[0].summaries_requests,
        summaries_requests_seen_by_emulator_baseline_subset=baseline_subset[0].summaries_requests,
        api_calls_match_emulator_counts=consistent,
        same_lines_every_run=same_lines,
        ours_runs=[round(m.seconds, 2) for m in ours],
        baseline_measured_on=(
            f"the first {len(subset)} organizations x {len(METERS)} meters, extrapolated x{scale:g} "
            "(linear: the same calls and queries per organization)"
        ),
        baseline_subset_organizations=len(subset),
        baseline_subset_runs=[round(m.seconds, 2) for m in baseline_subset],
        ours_subset_runs=[round(m.seconds, 2) for m in ours_subset],
        subset_ratio=round(subset_baseline / subset_ours, 2),
        subset_lines=dict(baseline_subset[0].statuses),
        emulator_scan_ms_per_summaries_call=round(scan_ms, 2),
        emulator_scan_note=(
            "stripe_emulator.meters.visible_records finds a customer's events on a meter from its index "
            f"({mark:,} events stored): ~{scan_ms:.2f} ms of each call, in both strategies, is emulator time"
        ),
        stripe_events_in_emulator=mark,
        emulator_tcp_nodelay=True,
        emulator_ms_per_small_get_as_shipped=round(stock_ms, 1),
        emulator_ms_per_small_get_with_nodelay=round(nodelay_ms, 2),
        emulator_nodelay_note=(
            "stripe_emulator/server.py Handler sends headers and body separately without TCP_NODELAY: "
            "every keep-alive response stalls ~40 ms on delayed ACK; the bench sets "
            "disable_nagle_algorithm on its own server instance"
        ),
        stripe_sdk_info_logging="silenced for the runs (logger 'stripe' at WARNING): 2 INFO lines per call",
        setup_seconds={
            "ledger_build": built["seconds"],
            "ledger_rebuilt": built["rebuilt"],
            "customers_and_meters_via_sdk": round(setup_seconds, 1),
            "meter_events_into_store": round(events_seconds, 1),
        },
        setup_bypass=(
            "meter events written straight into the in-process emulator's store (setup only); "
            "customers and meters created through the SDK; every measured call goes over HTTP"
        ),
        meets_target=calls_ours <= pages_needed and consistent,
    )
