"""Helpers shared by the emulator tests: an SDK client and a metered customer set up through it."""

from dataclasses import dataclass
from typing import Any

import stripe

from stripe_emulator.testing import EmulatorHandle


def make_client(
    emulator: EmulatorHandle, retries: int = 0, api_key: str = "sk_test_emulator"
) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": emulator.url}, max_network_retries=retries)


@dataclass
class Metered:
    customer: Any
    meter: Any
    price: Any
    subscription: Any


def create_metered(
    client: stripe.StripeClient,
    *,
    unit_amount_decimal: str = "1.25",
    event_name: str = "pages_rendered",
    anchor: int | None = None,
) -> Metered:
    """A customer subscribed to one metered price (``unit_amount_decimal`` cents per unit)."""
    customer = client.v1.customers.create(params={"name": "Acme Corp", "metadata": {"org_id": "1"}})
    meter = client.v1.billing.meters.create(
        params={
            "display_name": "Pages rendered",
            "event_name": event_name,
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
            "value_settings": {"event_payload_key": "value"},
        }
    )
    price = client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount_decimal": unit_amount_decimal,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            "product_data": {"name": "Pages"},
            "lookup_key": f"{event_name}-price",
        }
    )
    params: dict[str, Any] = {"customer": customer.id, "items": [{"price": price.id}]}
    if anchor is not None:
        params["billing_cycle_anchor"] = anchor
    subscription = client.v1.subscriptions.create(params=params)
    return Metered(customer, meter, price, subscription)


def send(client: stripe.StripeClient, setup: Metered, value: str, identifier: str, **extra: Any) -> Any:
    return client.v1.billing.meter_events.create(
        params={
            "event_name": setup.meter.event_name,
            "payload": {"stripe_customer_id": setup.customer.id, "value": value},
            "identifier": identifier,
            **extra,
        }
    )


def day_start(ts: int) -> int:
    return ts - ts % 86400


def usage(client: stripe.StripeClient, setup: Metered, start: int, end: int) -> int:
    summaries = client.v1.billing.meters.event_summaries.list(
        setup.meter.id, params={"customer": setup.customer.id, "start_time": start, "end_time": end}
    )
    assert len(summaries.data) == 1
    return int(summaries.data[0].aggregated_value)
