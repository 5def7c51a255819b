"""Test capability: summarises recognised text; needs Text recognition."""

from decimal import Decimal

from capabilities.registry import CapabilityConfig, Meter, NavEntry


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
