"""Sales reports: monthly sales spreadsheets in, an annual summary with charts,
rankings and flagged regions out (page, PDF and XLSX)."""

from decimal import Decimal

from capabilities.registry import CapabilityConfig, Meter, NavEntry


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
    job_kinds = {"build": "capabilities.reports.jobs.build"}
    nav = NavEntry("Sales reports", "index")
