"""Realistic synthetic usage for demos and benchmarks: organizations
`synthetic-0001`, `synthetic-0002`, … and, for each of them, every installed
meter and every day, events spread over the hours of the organization's
working day. Written through the ledger's batch path with deterministic
idempotency keys, so a re-run with the same arguments adds nothing.

The shape: organization sizes from a heavy-tailed (log-normal) distribution,
quieter weekends, a growth trend per organization, busier working hours in
the organization's own time zone. Larger organizations make more events; how
many units an event carries varies by meter kind.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from metering import ledger, meter_prices
from metering.meter_prices import MeterInfo
from metering.models import EventKind
from portal.audit import record_audit
from portal.models import Organization

BATCH = 50_000
SLUG_PREFIX = "synthetic-"
KEY_PREFIX = "synthetic"

NAME_FIRST = (
    "Amber", "Birch", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Indigo", "Juniper",
    "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx", "Pioneer", "Quartz", "Redwood", "Summit", "Willow",
)  # fmt: skip
NAME_SECOND = (
    "Analytics", "Logistics", "Health", "Media", "Legal", "Foods", "Robotics", "Energy", "Travel",
    "Insurance", "Studios", "Retail", "Labs", "Freight",
)  # fmt: skip

# Monday to Sunday, scaled so that a week averages 1.
_WEEK = (1.0, 1.08, 1.1, 1.05, 0.92, 0.3, 0.22)
WEEKDAY_FACTOR = tuple(factor * len(_WEEK) / sum(_WEEK) for factor in _WEEK)

# Share of a day's events by local hour: quiet nights, busy working hours.
LOCAL_HOUR_WEIGHT = (
    1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 19, 17, 13, 16, 18, 17, 14, 9, 6, 4, 3, 2, 2, 1,
)  # fmt: skip
UTC_OFFSETS = (-8, -7, -5, -5, -3, 0, 0, 1, 1, 1, 2, 3, 5, 8, 9, 10)


@dataclass(frozen=True)
class MeterShape:
    """How a meter's events look: their kind and the mean units one carries."""

    kind: str
    mean_quantity: float


# The platform's meters (keys as the capability registry names them); every
# other meter is a capability's own unit of work.
PLATFORM_METERS = {
    "api_calls": MeterShape(EventKind.API_CALLS, 25.0),
    "compute_seconds": MeterShape(EventKind.COMPUTE, 40.0),
}
UNITS = MeterShape(EventKind.UNITS, 6.0)


@dataclass(frozen=True)
class SyntheticOrganization:
    id: int
    slug: str


def synthetic_usage(
    organizations: Sequence[SyntheticOrganization],
    meters: Sequence[MeterInfo],
    *,
    start: date,
    days: int,
    events_per_day: int,
    seed: int,
    until: datetime | None = None,
) -> Iterator[list[ledger.UsageRecord]]:
    """The events, one list per organization, meter and day (possibly empty).

    The same arguments give the same events: every random draw comes from a
    generator seeded by `seed` and the organization's slug (and meter), so an
    organization's usage doesn't depend on how many others are generated.
    Events after `until` (if given) are left out.
    """
    for organization in organizations:
        traits = random.Random(f"{seed}:{organization.slug}")  # noqa: S311 (synthetic data, not secrets)
        # Log-normal with mean 1: most organizations are small, a few are huge.
        size = min(traits.lognormvariate(-0.5 * 1.4**2, 1.4), 60.0)
        monthly_growth = traits.uniform(-0.03, 0.15)
        offset = traits.choice(UTC_OFFSETS)
        hour_weights = [LOCAL_HOUR_WEIGHT[(hour + offset) % 24] for hour in range(24)]
        cumulative = [sum(hour_weights[: hour + 1]) for hour in range(24)]
        for info in meters:
            yield from _meter_days(
                organization,
                info,
                random.Random(f"{seed}:{organization.slug}:{info.capability}:{info.meter}"),  # noqa: S311
                activity=events_per_day * size,
                monthly_growth=monthly_growth,
                cumulative_hour_weights=cumulative,
                start=start,
                days=days,
                until=until,
            )


def _meter_days(
    organization: SyntheticOrganization,
    info: MeterInfo,
    rng: random.Random,
    *,
    activity: float,
    monthly_growth: float,
    cumulative_hour_weights: list[int],
    start: date,
    days: int,
    until: datetime | None,
) -> Iterator[list[ledger.UsageRecord]]:
    shape = PLATFORM_METERS.get(info.meter, UNITS)
    # Not every organization uses every meter alike.
    adoption = rng.lognormvariate(-0.5 * 0.6**2, 0.6)
    sigma = 0.8  # spread of units per event
    mu = math.log(shape.mean_quantity) - sigma**2 / 2
    prefix = f"{KEY_PREFIX}:{organization.slug}:{info.capability}:{info.meter}:"
    hours = range(24)
    for day_index in range(days):
        day = start + timedelta(days=day_index)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        # Growth counts from `start`, not from the middle of the span: a longer
        # rerun must draw the same events for the days it shares with a shorter one.
        growth = (1 + monthly_growth) ** (day_index / 30)
        noise = rng.lognormvariate(-0.5 * 0.25**2, 0.25)
        expected = activity * adoption * WEEKDAY_FACTOR[day.weekday()] * growth * noise
        count = int(expected) + (rng.random() < expected - int(expected))
        event_hours = sorted(rng.choices(hours, cum_weights=cumulative_hour_weights, k=count))
        records = []
        index_in_hour = 0
        for position, hour in enumerate(event_hours):
            index_in_hour = index_in_hour + 1 if position and event_hours[position - 1] == hour else 0
            # Every draw happens whether or not the event is kept, so an event
            # is the same whenever it is generated.
            occurred_at = midnight + timedelta(hours=hour, seconds=rng.randrange(3600))
            quantity = max(1, round(rng.lognormvariate(mu, sigma)))
            if until is not None and occurred_at > until:
                continue
            records.append(
                ledger.UsageRecord(
                    organization_id=organization.id,
                    capability=info.capability,
                    meter=info.meter,
                    quantity=quantity,
                    occurred_at=occurred_at,
                    idempotency_key=f"{prefix}{day.isoformat()}T{hour:02d}:{index_in_hour}",
                    kind=shape.kind,
                )
            )
        yield records


def organization_name(index: int) -> str:
    """A made-up company name; the number keeps them apart past the word list."""
    first = NAME_FIRST[index % len(NAME_FIRST)]
    second = NAME_SECOND[(index // len(NAME_FIRST)) % len(NAME_SECOND)]
    cycle = index // (len(NAME_FIRST) * len(NAME_SECOND))
    return f"{first} {second}" + (f" {cycle + 1}" if cycle else "")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date as YYYY-MM-DD") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


class Command(BaseCommand):
    help = (
        "Generate realistic synthetic usage (organizations synthetic-0001…, every installed meter, "
        "every day) through the ledger's batch path. Deterministic: a re-run adds nothing. "
        "Not in production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orgs", type=_positive, default=50, help="organizations (default 50)")
        parser.add_argument("--days", type=_positive, default=30, help="days of usage (default 30)")
        parser.add_argument(
            "--events-per-day",
            type=_positive,
            default=20,
            help="mean events per organization, meter and day (default 20); larger organizations make more",
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument(
            "--start",
            type=_date,
            default=None,
            help="first day, YYYY-MM-DD (default: DAYS days before today)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "generate_usage refuses to run with DJANGO_ENV=production: it writes made-up usage."
            )
        meters = meter_prices.meters()
        if not meters:
            raise CommandError(
                "No meters to generate usage for: no capabilities are installed "
                "(metering.meter_prices.meters() is empty). Add capability apps to INSTALLED_APPS."
            )
        for name in ("orgs", "days", "events_per_day"):  # call_command(orgs=0) skips argparse
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        days: int = options["days"]
        now = timezone.now()
        start: date = options["start"] or (now.date() - timedelta(days=days))
        verbosity: int = options["verbosity"]

        organizations = self._organizations(options["orgs"])
        started = time.monotonic()
        written = skipped = generated = 0
        batch: list[ledger.UsageRecord] = []

        def flush() -> None:
            nonlocal written, skipped
            new = ledger.ingest(batch)
            written += new
            skipped += len(batch) - new
            batch.clear()

        days_of_usage = synthetic_usage(
            organizations,
            meters,
            start=start,
            days=days,
            events_per_day=options["events_per_day"],
            seed=options["seed"],
            until=now,
        )
        with tqdm(
            total=len(organizations) * len(meters) * days,
            unit=" meter-days",
            desc="Synthetic usage",
            file=sys.stderr,
            disable=None if verbosity else True,  # None: only on a terminal
        ) as progress:
            for records in days_of_usage:
                batch.extend(records)
                generated += len(records)
                progress.update(1)
                if len(batch) >= BATCH:
                    flush()
                    rate = generated / max(time.monotonic() - started, 1e-9)
                    progress.set_postfix_str(f"{generated:,} events, {rate:,.0f} events/s")
            if batch:
                flush()
        elapsed = time.monotonic() - started
        end = start + timedelta(days=days - 1)
        self.stdout.write(
            f"Recorded {written:,} usage events, skipped {skipped:,} already in the ledger: "
            f"{len(organizations)} organizations, {len(meters)} meters, {start} to {end}, "
            f"{elapsed:.1f} s ({generated / max(elapsed, 1e-9):,.0f} events/s)."
        )

    def _organizations(self, count: int) -> list[SyntheticOrganization]:
        """`synthetic-0001`… , created if missing."""
        slugs = [f"{SLUG_PREFIX}{index + 1:04d}" for index in range(count)]
        known = dict(Organization.objects.filter(slug__in=slugs).values_list("slug", "id"))
        created = 0
        with transaction.atomic():
            for index, slug in enumerate(slugs):
                if slug in known:
                    continue
                name = organization_name(index)
                organization = Organization.objects.create(name=name, slug=slug)
                record_audit(
                    None,
                    "organization.created",
                    organization=organization,
                    target=organization,
                    actor_email="generate_usage",
                    details={"name": name, "slug": slug, "synthetic": True},
                )
                known[slug] = organization.pk
                created += 1
        if created:
            self.stdout.write(f"Created {created} synthetic organizations.")
        return [SyntheticOrganization(known[slug], slug) for slug in slugs]
