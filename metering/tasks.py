"""Periodic tasks of metering."""

from celery import shared_task

from metering import api_calls


@shared_task(name="metering.flush_api_calls")
def flush_api_calls() -> int:
    return api_calls.flush()


@shared_task(name="metering.refresh_platform_usage")
def refresh_platform_usage() -> int:
    from metering import platform

    return platform.refresh_days(platform.closed_days_to_refresh())


@shared_task(name="metering.recompute_budgets")
def recompute_budgets() -> int:
    """Every budget's counters from the rollups (usage that is not a job's:
    API calls, corrections), and the alerts of thresholds reached."""
    from metering import budgets

    return budgets.recompute()


@shared_task(name="metering.detect_anomalies")
def detect_anomalies() -> int:
    """Daily, shortly after midnight UTC: yesterday's anomalies, and any
    closed day a stopped beat missed (metering.anomalies.catch_up)."""
    from metering import anomalies

    return anomalies.catch_up()
