"""The jobs' part of the IT admin health page: jobs stranded (queued past
their message's lease, running past their worker's), jobs retried in the last
24 hours, and the sweep's last run; then one row per capability (waiting,
running, workers, the last hour's outcomes and durations, degraded or not)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.timesince import timesince
from redis.exceptions import RedisError

from capabilities import degraded, queries
from capabilities.monitoring import CapabilityFigures, capability_figures
from capabilities.sweep import SWEEP_LAST_RUN
from portal.health import HealthCell, HealthItem, HealthSection, HealthTable, ago

NOTHING = "\N{EN DASH}"  # an empty figure
# A capability whose oldest queued job waited longer than this has a backlog.
BACKLOG_SECONDS = 300


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


def duration(value: timedelta | None) -> str:
    """A job's duration for people: "0.4 s", "12 s", "3 min 5 s", "2 h 10 min"."""
    if value is None:
        return NOTHING
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def waited(seconds: float) -> str:
    return "under a minute" if seconds < 60 else str(timesince(timezone.now() - timedelta(seconds=seconds)))


def state(figures: CapabilityFigures, now: datetime) -> HealthCell:
    """The row's verdict, worst first."""
    waiting = figures.jobs.queued or figures.messages
    row = figures.degraded
    if row is not None:
        return HealthCell(
            "Degraded",
            "bad",
            f"{row.failed} of {row.finished} jobs failed in the last"
            f" {settings.CAPABILITY_DEGRADED_WINDOW / 60:g} minutes."
            f" Degraded since {timesince(row.degraded_since, now)}"
            if row.degraded_since and now - row.degraded_since >= timedelta(minutes=1)
            else f"{row.failed} of {row.finished} jobs failed in the last"
            f" {settings.CAPABILITY_DEGRADED_WINDOW / 60:g} minutes."
            if row.degraded_since
            else "",
        )
    if figures.service is not None and not figures.service.up:
        return HealthCell("Service down", "bad", figures.service.detail)
    if figures.capability.external:
        if figures.service is None:
            return HealthCell("Not checked", "warn", "It declares no health URL.")
        return HealthCell("Healthy", "ok")
    if figures.workers is None:
        return HealthCell("Unknown", "warn", "The broker did not answer.")
    if not figures.workers:
        if waiting:
            return HealthCell("No worker", "bad", "Its jobs wait until one starts.")
        return HealthCell("No worker", "warn")
    age = figures.oldest_age(now)
    if age is not None and age > BACKLOG_SECONDS:
        return HealthCell("Backlog", "warn", f"The oldest job has waited {waited(age)}.")
    return HealthCell("Healthy", "ok")


def capability_row(figures: CapabilityFigures, now: datetime, *, with_service: bool) -> list[HealthCell]:
    jobs = figures.jobs
    age = figures.oldest_age(now)
    waiting_notes = []
    if age is not None:
        waiting_notes.append(f"Oldest waited {waited(age)}.")
    if figures.messages is not None and figures.messages != jobs.queued:
        # They differ while a worker holds a message, or after the broker lost some (the sweep resends).
        waiting_notes.append(
            f"{figures.messages} message{'s' if figures.messages != 1 else ''} in the broker."
            if figures.messages
            else "None of them in the broker: the sweep sends them again."
        )
    if figures.capability.external:
        return [
            HealthCell(figures.capability.title, note="Runs as a service of its own"),
            state(figures, now),
            HealthCell(NOTHING),
            HealthCell(NOTHING),
            HealthCell(NOTHING),
            HealthCell(NOTHING),
            HealthCell(NOTHING),
            *([service_cell(figures)] if with_service else []),
        ]
    if figures.workers is None:
        workers = HealthCell("?", note="The broker did not answer.")
    else:
        shown = ", ".join(figures.workers[:3]) + (
            f" and {len(figures.workers) - 3} more" if len(figures.workers) > 3 else ""
        )
        workers = HealthCell(str(len(figures.workers)), note=shown)
    cells = [
        HealthCell(figures.capability.title),
        state(figures, now),
        HealthCell(str(jobs.queued), note=" ".join(waiting_notes)),
        HealthCell(str(jobs.running)),
        workers,
        last_hour(jobs),
        HealthCell(
            f"{duration(jobs.duration_p50)} / {duration(jobs.duration_p95)}" if jobs.duration_p50 else NOTHING
        ),
    ]
    if with_service:
        cells.append(service_cell(figures))
    return cells


def last_hour(jobs: queries.CapabilityJobs) -> HealthCell:
    if not (jobs.succeeded or jobs.failed):
        return HealthCell("None")
    return HealthCell(
        f"{jobs.succeeded} succeeded, {jobs.failed} failed",
        "bad" if jobs.failed and jobs.failed >= jobs.succeeded else "warn" if jobs.failed else "",
    )


def service_cell(figures: CapabilityFigures) -> HealthCell:
    """The health URL's answer of a capability that runs as a service of its own."""
    if figures.service is None:
        return HealthCell(NOTHING)  # runs on the portal's workers (the caption says so)
    return HealthCell(
        "Up" if figures.service.up else "Down", "ok" if figures.service.up else "bad", figures.service.detail
    )


def capabilities_section() -> HealthSection:
    now = timezone.now()
    every = capability_figures(now)
    # The service check column appears once a capability runs as a service of its own.
    with_service = any(figures.service is not None for figures in every)
    rows = [capability_row(figures, now, with_service=with_service) for figures in every]
    columns = [
        "Capability",
        "State",
        "Waiting",
        "Running",
        "Workers",
        "Last hour",
        "Run time",
    ]
    return HealthSection(
        "Capabilities",
        "Each capability runs its jobs on workers of its own, so one that is down or failing leaves"
        f" the others alone. A capability is degraded while {degraded.rule_in_words()}: its customers"
        " see it on its card and pages, the IT admins get one email per episode, and failed jobs are"
        " never billed.",
        table=HealthTable(
            [*columns, "Service check"] if with_service else columns,
            rows,
            "Waiting: jobs not started yet. Workers: processes consuming the capability's jobs (each"
            " announces itself every 10 s). Last hour and run time: jobs finished in the last 60"
            " minutes, and how long they ran (median / 95th percentile)."
            + (
                " Service check: the answer of the health URL of a capability that runs as a service of"
                " its own (its jobs, queues and workers are its own, not the portal's)."
                if with_service
                else ""
            ),
        ),
    )
