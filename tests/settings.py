"""Test settings: the production-shaped settings plus capability apps that exist
only for tests (the demo must not show fake capabilities)."""

from portal.settings import *  # noqa: F403
from portal.settings import INSTALLED_APPS, env

# The tests write counted API calls themselves (api_calls.write_counts), in
# their own transaction; a background writer's commits would outlive a test.
# Tests of real server processes set it in the processes' environment.
API_CALLS_WRITE_INTERVAL = env.float("TEST_API_CALLS_WRITE_INTERVAL", default=0)

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "tests.capability_apps.ocr",
    "tests.capability_apps.summaries",
    "tests.capability_apps.glossary",
]
