"""The moments usage is counted by: the UTC hour a rollup row covers and the
UTC midnight a day starts at. Metering, billing and the benchmarks cut time
the same way, so they share these two functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def hour_of(moment: datetime) -> datetime:
    """Start of the UTC hour holding `moment`. Truncating in the moment's own
    zone would give the half-hour of a UTC+05:30 timestamp."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def midnight(day: date) -> datetime:
    """00:00 UTC of `day`."""
    return datetime.combine(day, time.min, UTC)
