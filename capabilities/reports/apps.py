"""Sales reports: monthly sales spreadsheets in, an annual summary with charts,
rankings and flagged regions out (page, PDF and XLSX)."""

from __future__ import annotations

import os
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from capabilities.registry import CapabilityConfig, DemoMeter, JobKind, Meter, NavEntry

if TYPE_CHECKING:
    from portal.models import Organization, User


def _model_setting(name: str) -> str:
    return os.environ.get(f"QA_LLM_{name}", "")


class ReportsConfig(CapabilityConfig):
    name = "capabilities.reports"
    label = "reports"
    key = "reports"
    verbose_name = "Sales reports"
    summary = "Monthly sales spreadsheets in, a charted annual summary out (page, PDF, XLSX)."
    category = "Analytics"
    meters = (
        Meter("reports", "report", Decimal("0.50"), description="Reports built"),
        Meter("rows", "row", Decimal("0.0001"), description="Sales rows aggregated into a report"),
    )
    job_kinds = {
        "build": JobKind(
            "capabilities.reports.jobs.build",
            input="capabilities.reports.forms.BuildInput",
            label="Build a report",
        )
    }
    nav = NavEntry("Sales reports", "index")
    demo_usage = (DemoMeter("reports", 2.5), DemoMeter("rows", 2.5, 3_000))
    demo_reason = "The monthly sales pack without the spreadsheet marathon"
    # Upload limits (bytes of 1,000,000 to the MB, as the page spells them).
    default_settings = {
        "MAX_FILE_BYTES": 10_000_000,
        "MAX_ROWS_PER_FILE": 100_000,
        "MAX_FILES": 24,
        "MAX_REQUEST_BYTES": 100_000_000,
        # The model server that rewords the executive summary (narrative.py);
        # unset here, they follow QA_LLM_*, so one server serves both.
        "LLM_BASE_URL": partial(_model_setting, "BASE_URL"),
        "LLM_MODEL": partial(_model_setting, "MODEL"),
        "LLM_API_KEY": partial(_model_setting, "API_KEY"),
    }

    def demo_content(self, organization: Organization, actor: User) -> list[str]:
        from capabilities.reports import demo

        return demo.create(organization, actor)
