"""Beat's task of capability requests: expire the ones nobody decided on."""

from celery import shared_task

from capabilities.approvals import actions


@shared_task(name="approvals.expire_requests", ignore_result=True)
def expire_requests() -> int:
    return actions.expire_requests()
