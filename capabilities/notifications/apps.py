"""Notifications: email and signed webhooks when another capability's job
finishes, with retries, a record of every attempt, and messages billed once."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from capabilities.registry import CapabilityConfig, DemoMeter, JobKind, Meter, NavEntry

if TYPE_CHECKING:
    from portal.models import Organization, User


class NotificationsConfig(CapabilityConfig):
    name = "capabilities.notifications"
    label = "notifications"
    key = "notifications"
    verbose_name = "Notifications"
    summary = "Email or a signed webhook when a job of another capability succeeds or fails."
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

    def ready(self) -> None:
        from capabilities.notifications import receivers
        from capabilities.signals import job_finished

        job_finished.connect(receivers.on_job_finished, dispatch_uid="notifications.on_job_finished")

    def demo_content(self, organization: Organization, actor: User) -> list[str]:
        from capabilities.notifications import demo

        return demo.create(organization, actor)
