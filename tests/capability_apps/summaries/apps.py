"""Test capability: summarises recognised text; needs Text recognition."""

from decimal import Decimal

from capabilities.registry import BETA, CapabilityConfig, Meter, NavEntry, Version


class SummariesConfig(CapabilityConfig):
    name = "tests.capability_apps.summaries"
    label = "test_summaries"
    key = "summaries"
    verbose_name = "Summaries"
    summary = "One-paragraph summaries of recognised documents."
    category = "Documents"
    meters = (Meter("summaries", "summary", Decimal("0.05")),)
    dependencies = ("ocr",)
    nav = NavEntry("Summaries", "index")
    versions = (
        Version("1.0.0", notes="One paragraph per document."),
        Version("1.1.0", notes="Keeps the document's headings."),
        Version("2.0.0", BETA, notes="Bullet points instead of a paragraph."),
    )
