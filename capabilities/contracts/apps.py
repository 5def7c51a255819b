"""Contract tracker: reads each uploaded document that reads as a contract and
tracks its parties, term, renewal and notice deadline, with citations."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from capabilities.registry import CapabilityConfig, DemoMeter, JobKind, Meter, NavEntry

if TYPE_CHECKING:
    from portal.models import Organization, User

ANNOUNCE_TASK = "contracts.announce_deadlines"


class ContractsConfig(CapabilityConfig):
    name = "capabilities.contracts"
    label = "contracts"
    key = "contracts"
    verbose_name = "Contract tracker"
    summary = (
        "Each contract's parties, term, renewal and notice deadline, with citations: no surprise renewals."
    )
    category = "Documents"
    dependencies = ("documents",)
    meters = (Meter("contracts", "contract", Decimal("0.05"), description="Contracts analysed"),)
    job_kinds = {
        "analyse": JobKind(
            "capabilities.contracts.jobs.analyse",
            input="capabilities.contracts.forms.AnalyseInput",
            label="Analyse a contract",
        ),
        "analyse_all": JobKind("capabilities.contracts.jobs.analyse_all", label="Analyse existing documents"),
    }
    nav = NavEntry("Contracts", "index")
    version = "1.0.0"
    demo_usage = (DemoMeter("contracts", 1.5),)
    demo_reason = (
        "See every renewal coming: the notice deadline of each contract, with the clause it comes from"
    )
    default_settings = {
        # The daily deadline signal is sent for contracts whose notice deadline
        # is at most this many days away (Notifications rules pick their own N).
        "DEADLINE_WARNING_DAYS": 90,
        # The hour (UTC) of the daily deadline check.
        "ANNOUNCE_HOUR_UTC": 6,
    }

    def ready(self) -> None:
        from celery.schedules import crontab
        from django.conf import settings

        from capabilities.capability_settings import capability_setting
        from capabilities.contracts import receivers
        from capabilities.signals import capability_toggled, job_finished

        job_finished.connect(receivers.on_job_finished, dispatch_uid="contracts.on_job_finished")
        capability_toggled.connect(receivers.on_capability_toggled, dispatch_uid="contracts.on_toggled")
        # The schedule is the capability's: the project settings never name it.
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "contracts-announce-deadlines",
            {
                "task": ANNOUNCE_TASK,
                "schedule": crontab(hour=capability_setting("contracts", "ANNOUNCE_HOUR_UTC"), minute=0),
            },
        )

    def demo_content(self, organization: Organization, actor: User) -> list[str]:
        from capabilities.contracts import demo

        return demo.create(organization, actor)
