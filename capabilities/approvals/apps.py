"""App configuration of capability requests and approvals."""

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "capabilities.approvals"
    label = "approvals"
    verbose_name = "Capability requests and approvals"
