"""Notifications: email and signed webhooks when another capability's job
finishes, with retries, a record of every attempt, and messages billed once."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from capabilities.capability_settings import outside_production
from capabilities.registry import CapabilityConfig, DemoMeter, JobKind, Meter, NavEntry

if TYPE_CHECKING:
    from portal.models import Organization, User


class NotificationsConfig(CapabilityConfig):
    name = "capabilities.notifications"
    label = "notifications"
    key = "notifications"
    verbose_name = "Notifications"
    summary = (
        "Email or a signed webhook when a job of another capability succeeds or fails, "
        "or a contract's notice deadline nears."
    )
    category = "Integrations"
    meters = (
        Meter("emails", "email", Decimal("0.001"), description="Emails delivered"),
        Meter("webhooks", "webhook call", Decimal("0.0005"), description="Webhook calls delivered (2xx)"),
    )
    job_kinds = {
        "deliver": JobKind(
            "capabilities.notifications.jobs.deliver",
            input="capabilities.notifications.forms.DeliverInput",
            label="Deliver a notification",
        )
    }
    nav = NavEntry("Notifications", "index")
    version = "1.0.0"
    demo_usage = (DemoMeter("emails", 18), DemoMeter("webhooks", 30))
    demo_reason = "Hear about failed jobs without watching the jobs page"
    default_settings = {
        # Webhook calls: seconds to connect and to wait for each read of the answer.
        "CONNECT_TIMEOUT": 3.0,
        "READ_TIMEOUT": 10.0,
        # Seconds before each retry of a failed delivery; attempts = len + 1.
        "RETRY_DELAYS": [30, 120, 600, 3600],
        # Webhooks to private, loopback or link-local addresses (SSRF into the
        # portal's network) are refused in production; the quickstart and tests
        # post to localhost.
        "ALLOW_PRIVATE_TARGETS": outside_production,
    }

    def ready(self) -> None:
        from django.conf import settings

        from capabilities.notifications import receivers
        from capabilities.signals import contract_deadline_near, job_finished

        job_finished.connect(receivers.on_job_finished, dispatch_uid="notifications.on_job_finished")
        contract_deadline_near.connect(
            receivers.on_contract_deadline_near, dispatch_uid="notifications.on_contract_deadline_near"
        )
        # A retry is a Celery countdown: this sends again the ones whose message
        # was lost, as the job sweep does for jobs (the schedule is the
        # capability's: the project settings never name it).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "notifications-send-overdue-retries",
            {"task": "notifications.send_overdue_retries", "schedule": settings.JOB_SWEEP_INTERVAL},
        )

    def demo_content(self, organization: Organization, actor: User) -> list[str]:
        from capabilities.notifications import demo

        return demo.create(organization, actor)
