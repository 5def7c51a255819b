"""Reading an organization's toggles in tests, and the API client of a key."""

from __future__ import annotations

from django.test import Client

from capabilities.models import FeatureToggle
from capabilities.registry import registry
from portal.models import Organization


def api_key_client(secret: str) -> Client:
    """A client that authenticates with an organization API key only."""
    return Client(headers={"Authorization": f"Api-Key {secret}"})


# The capability apps these tests are about (tests/capability_apps). Real
# capability apps are installed next to them and are not their subject.
TEST_CAPABILITIES = ("summaries", "ocr", "glossary")


def states(organization: Organization) -> dict[str, tuple[bool, bool]]:
    """Capability key -> (enabled, locked) for every toggle row of the organization
    of a test capability app."""
    return {
        row.capability_key: (row.enabled, row.locked)
        for row in FeatureToggle.objects.filter(
            organization=organization, capability_key__in=TEST_CAPABILITIES
        )
    }


def enabled_in(organization: Organization) -> set[str]:
    return {key for key, (enabled, _) in states(organization).items() if enabled}


def assert_dependency_rule(organization: Organization) -> None:
    """No enabled capability lacks an enabled dependency."""
    enabled = enabled_in(organization)
    for key in enabled:
        missing = set(registry().requirements(key)) - enabled
        assert not missing, f"{key} is on without {missing}"
