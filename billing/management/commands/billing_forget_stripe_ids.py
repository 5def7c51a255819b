"""Forget the ids a Stripe account gave us (customers, meters, products, prices,
subscriptions and items), so the next sync creates them again.

For the quickstart: the offline emulator keeps its state in memory, so after a
restart of `make run` it no longer knows the ids the portal saved. Never run
it against a real Stripe account: the objects there would be duplicated."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from billing.models import BillingAccount, PriceVersion, StripeMeter, SubscriptionItem


class Command(BaseCommand):
    help = "Forget saved Stripe ids (for a restarted offline emulator only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-emulator", action="store_true", help="Do nothing unless STRIPE_API_BASE is set."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.STRIPE_API_BASE:
            if options["if_emulator"]:
                return
            raise CommandError("STRIPE_API_BASE is unset: this is a real Stripe account; refusing.")
        with transaction.atomic():
            items = SubscriptionItem.objects.all().delete()[0]
            accounts = BillingAccount.objects.update(
                stripe_customer_id="", stripe_subscription_id="", subscription_status=""
            )
            meters = StripeMeter.objects.update(stripe_meter_id="", stripe_product_id="")
            prices = PriceVersion.objects.update(stripe_price_id="")
        self.stdout.write(
            f"Forgot the emulator's ids: {accounts} accounts, {items} items, {meters} meters, "
            f"{prices} prices. The next sync creates them again."
        )
