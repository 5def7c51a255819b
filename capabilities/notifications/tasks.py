"""The Celery task a retry's countdown ends in: it queues the delivery's next
attempt as a `deliver` job (so the runner re-checks the toggle and bills); and
beat's sweep for retries whose countdown message was lost."""

from celery import shared_task


@shared_task(name="notifications.retry_delivery", ignore_result=True, acks_late=True)
def retry_delivery(delivery_id: int, attempt: int) -> None:
    from capabilities.notifications.actions import start_attempt

    start_attempt(delivery_id, attempt)


@shared_task(name="notifications.send_overdue_retries", ignore_result=True)
def send_overdue_retries() -> int:
    """Beat, every JOB_SWEEP_INTERVAL: queue the retries whose message was lost."""
    from capabilities.notifications.actions import send_overdue_retries as sweep

    return sweep()
