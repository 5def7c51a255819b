"""Periodic tasks of metering."""

from celery import shared_task

from metering import api_calls


@shared_task(name="metering.flush_api_calls")
def flush_api_calls() -> int:
    return api_calls.flush()
