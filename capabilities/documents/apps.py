"""The Documents capability's declaration: meters, job kind, navigation."""

from decimal import Decimal

from capabilities.registry import CapabilityConfig, Meter, NavEntry


class DocumentsConfig(CapabilityConfig):
    name = "capabilities.documents"
    label = "documents"
    key = "documents"
    verbose_name = "Documents"
    summary = "Upload PDFs, Word files, text and scans; extract their text and key fields; search them."
    category = "Documents"
    meters = (
        Meter("pages", "page", Decimal("0.01"), description="Pages whose text was extracted"),
        Meter("searches", "search", Decimal("0.001"), description="Full-text searches"),
    )
    job_kinds = {"extract": "capabilities.documents.jobs.extract"}
    nav = NavEntry("Documents", "index")
    version = "1.0.0"
