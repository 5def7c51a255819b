"""The jobs' part of the IT admin health page: jobs stranded (queued past
their message's lease, running past their worker's), jobs retried in the last
24 hours, and the sweep's last run."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.timesince import timesince
from redis.exceptions import RedisError

from capabilities import queries
from capabilities.sweep import SWEEP_LAST_RUN
from portal.health import HealthItem, HealthSection, ago


def _last_sweep() -> tuple[datetime | None, str]:
    try:
        noted = cache.get(SWEEP_LAST_RUN)
    except RedisError:  # the cache is away: the page says so instead of failing
        return None, "The cache is unavailable."
    if not noted:
        return None, ""
    return parse_datetime(noted["at"]), noted.get("summary", "")


def sweep_item(now: datetime) -> HealthItem:
    at, summary = _last_sweep()
    if at is None:
        note = summary or "No sweep ran since the cache was emptied; is beat running?"
        return HealthItem("Last sweep", "Never", "bad", note)
    # Three missed periods: beat (or the worker of the default queue) is down.
    late = now - at > timedelta(seconds=3 * settings.JOB_SWEEP_INTERVAL)
    return HealthItem(
        "Last sweep",
        ago(at, now),
        "bad" if late else "ok",
        f"{summary[0].upper()}{summary[1:]}." if summary else "",
    )


def jobs_section() -> HealthSection:
    now = timezone.now()
    health = queries.job_health(now)
    items = [sweep_item(now)]
    waiting_note = (
        f"Their messages were not claimed in time (lost with the broker's data, held by a dead worker,"
        f" or a backlog); the sweep sends them again."
        f" Oldest queued {timesince(health.oldest_waiting, now)} ago."
        if health.oldest_waiting
        else ""
    )
    items.append(
        HealthItem(
            "Queued past their grace",
            str(health.waiting),
            "warn" if health.waiting else "ok",
            waiting_note,
        )
    )
    items.append(
        HealthItem(
            "Running on a dead worker",
            str(health.abandoned),
            "warn" if health.abandoned else "ok",
            "Their worker stopped renewing its lease; the sweep queues them again."
            if health.abandoned
            else "",
        )
    )
    notes = []
    if health.worker_lost:
        notes.append(
            f"Failed, unbilled, after stopping their worker {settings.JOB_MAX_ATTEMPTS} times:"
            f" {health.worker_lost}."
        )
    if health.retried_unfinished:
        notes.append(f"Not finished yet: {health.retried_unfinished}.")
    items.append(
        HealthItem(
            "Jobs retried (24 hours)",
            str(health.retried),
            "bad" if health.worker_lost else "warn" if health.retried else "ok",
            " ".join(notes),
        )
    )
    return HealthSection(
        "Jobs: queues and workers",
        f"A job's row is its record and its message only a nudge: every {settings.JOB_SWEEP_INTERVAL:g} s the"
        " sweep sends again the messages of jobs not claimed in time and takes back jobs whose worker"
        f" stopped renewing its lease; a job that stopped its worker {settings.JOB_MAX_ATTEMPTS} times fails,"
        " unbilled.",
        items,
    )
