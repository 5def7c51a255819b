"""The demo's made-up usage: one day of an organization's use of a capability,
from the capability's `demo_usage` (a weekday of each meter for an
organization of Acme's size), as ledger records with deterministic
idempotency keys (`demo:<org>:<capability>:<meter>:<day>T<hour>:<n>`).

The shape: the organization's size scales every meter; weekdays are busy,
weekends quiet; usage grows month on month at the organization's own rate;
events fall in its working hours (08:00 to 18:00 in its time zone); each day
has its own noise. Every draw comes from a generator seeded by the
organization, capability, meter and day, so a day is the same whenever it is
generated."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from capabilities.registry import Capability, DemoMeter
from metering import ledger

# Monday to Sunday.
WEEKDAY_FACTOR = (1.0, 1.08, 1.1, 1.04, 0.9, 0.12, 0.06)
# Share of a working day's events by local hour, 08:00 to 17:00 (the hour starting then).
WORKING_HOURS = {8: 5, 9: 11, 10: 14, 11: 13, 12: 7, 13: 10, 14: 13, 15: 12, 16: 9, 17: 6}


@dataclass(frozen=True)
class UsageProfile:
    """How much an organization uses, relative to Acme, and where its day is."""

    slug: str
    size: float
    monthly_growth: float
    utc_offset: int  # hours; its working day must end before 21:00 UTC (see history.py)


def day_of_usage(
    profile: UsageProfile,
    organization_id: int,
    capability: Capability,
    day: date,
    *,
    months_in: float,
    switched_on: Callable[[datetime], bool],
    before: datetime,
) -> list[ledger.UsageRecord]:
    """The organization's events of `capability` on `day` that happen while it
    is switched on and before `before`. `months_in`: months since the history
    began (growth)."""
    records = []
    for usage in capability.demo_usage:
        rng = random.Random(f"demo:{profile.slug}:{capability.key}:{usage.meter}:{day.isoformat()}")  # noqa: S311 (made-up usage, not secrets)
        records.extend(
            _meter_day(
                profile, organization_id, capability.key, usage, day, months_in, rng, switched_on, before
            )
        )
    return records


def _meter_day(
    profile: UsageProfile,
    organization_id: int,
    capability: str,
    usage: DemoMeter,
    day: date,
    months_in: float,
    rng: random.Random,
    switched_on: Callable[[datetime], bool],
    before: datetime,
) -> list[ledger.UsageRecord]:
    noise = rng.lognormvariate(-0.5 * 0.25**2, 0.25)
    expected = (
        usage.events_per_day
        * profile.size
        * WEEKDAY_FACTOR[day.weekday()]
        * (1 + profile.monthly_growth) ** months_in
        * noise
    )
    count = int(expected) + (rng.random() < expected - int(expected))
    hours = sorted(rng.choices(list(WORKING_HOURS), weights=list(WORKING_HOURS.values()), k=count))
    sigma = 0.5  # spread of the units one event carries
    mu = math.log(usage.units_per_event) - sigma**2 / 2
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    prefix = f"demo:{profile.slug}:{capability}:{usage.meter}:{day.isoformat()}T"
    records = []
    for position, local_hour in enumerate(hours):
        # Every draw is made whether or not the event is kept, so an event is
        # the same however much of the day is generated.
        hour = local_hour - profile.utc_offset
        occurred_at = midnight + timedelta(hours=hour, seconds=rng.randrange(3600))
        quantity = 1 if usage.units_per_event == 1 else max(1, round(rng.lognormvariate(mu, sigma)))
        if occurred_at >= before or not switched_on(occurred_at):
            continue
        records.append(
            ledger.UsageRecord(
                organization_id=organization_id,
                capability=capability,
                meter=usage.meter,
                quantity=quantity,
                occurred_at=occurred_at,
                idempotency_key=f"{prefix}{hour:02d}:{position}",
            )
        )
    return records
