"""App configuration of metering: the health page gets the API calls waiting
for the ledger."""

from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = "Usage metering"

    def ready(self) -> None:
        from metering import health
        from portal import health as portal_health

        portal_health.register(health.api_calls_section)
