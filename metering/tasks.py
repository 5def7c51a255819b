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
