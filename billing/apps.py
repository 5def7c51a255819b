"""App configuration of billing: the price book becomes the source of
metering's meter prices, switching a capability (or the version it runs) queues
a subscription sync,
and the IT admin health page gets the push backlog."""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from billing import health, price_book, receivers
        from capabilities.signals import capability_toggled, release_changed
        from metering import meter_prices
        from portal import health as portal_health

        meter_prices.register(price_book.PriceBookMeterPrices())
        capability_toggled.connect(receivers.capability_toggled, dispatch_uid="billing.sync_on_toggle")
        release_changed.connect(receivers.release_changed, dispatch_uid="billing.sync_on_release")
        portal_health.register(health.push_backlog)
