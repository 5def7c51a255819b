"""Test capability with no meters: free to switch on, no confirmation."""

from capabilities.registry import CapabilityConfig, Version


class GlossaryConfig(CapabilityConfig):
    name = "tests.capability_apps.glossary"
    label = "test_glossary"
    key = "glossary"
    verbose_name = "Glossary"
    summary = "A shared list of the organization's terms."
    category = "Knowledge"
    # Two stable releases and no beta: nothing to opt in to.
    versions = (Version("1.0.0"), Version("1.1.0", notes="Terms sorted by use."))
