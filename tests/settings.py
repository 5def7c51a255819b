"""Test settings: the production-shaped settings plus capability apps that exist
only for tests (the demo must not show fake capabilities)."""

from portal.settings import *  # noqa: F403
from portal.settings import INSTALLED_APPS

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "tests.capability_apps.ocr",
    "tests.capability_apps.summaries",
    "tests.capability_apps.glossary",
]
