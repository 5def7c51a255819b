"""Test capability with no meters: free to switch on, no confirmation."""

from capabilities.registry import CapabilityConfig


class GlossaryConfig(CapabilityConfig):
    name = "tests.capability_apps.glossary"
    label = "test_glossary"
    key = "glossary"
    verbose_name = "Glossary"
    summary = "A shared list of the organization's terms."
    category = "Knowledge"
