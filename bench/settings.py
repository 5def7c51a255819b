"""Benchmark settings: the test settings (with the test capability apps) plus
django-waffle, the baseline the toggle check is compared with, and a second
cache so waffle can be measured on LocMem and on Redis in the same run."""

from tests.settings import *  # noqa: F403
from tests.settings import CACHES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "waffle"]
CACHES = {**CACHES, "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WAFFLE_CACHE_NAME = "default"
WAFFLE_CREATE_MISSING_FLAGS = False
