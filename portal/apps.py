"""App configuration of the tenancy app."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Switchboard portal"

    def ready(self) -> None:
        from portal import checks, signals  # noqa: F401  (registers system checks, connects audit receivers)
        from portal.api import schema  # noqa: F401  (registers OpenAPI extensions)
