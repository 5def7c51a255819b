"""Metering's part of the IT admin health page: API calls written by the web
processes and waiting for beat to move them into the ledger."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from metering.queries.backlog import api_calls_waiting
from portal.health import HealthItem, HealthSection, ago


def _move_period() -> float:
    return float(settings.CELERY_BEAT_SCHEDULE["flush-api-calls"]["schedule"])


def api_calls_section() -> HealthSection:
    now = timezone.now()
    waiting = api_calls_waiting()
    late = timedelta(seconds=3 * _move_period())  # three missed moves
    last = waiting.last_move
    if last is None:
        moved = HealthItem(
            "Last move to the ledger",
            "Never",
            "bad" if waiting.calls else "warn",
            "Beat moves counted API calls into the ledger every minute; is beat running?",
        )
    else:
        moved = HealthItem(
            "Last move to the ledger",
            ago(last, now),
            "bad" if waiting.calls and now - last > late else "ok",
        )
    return HealthSection(
        "Usage: API calls",
        "Each web process writes the API calls it counted to PostgreSQL every second; beat moves"
        " them into the ledger every minute. Calls waiting here are safe: they are billed once moved.",
        [
            HealthItem("Waiting for the ledger", f"{waiting.calls:,}", "ok"),
            moved,
        ],
    )
