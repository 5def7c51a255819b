"""The demo app: only the `seed_demo` command and what it runs."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Quickstart demo"
