"""Fixture-shaped builders: every object starts as a copy of Stripe's published example and overrides fields.

The examples (``fixtures3.json``, MIT, stripe/openapi) give field names, nesting and types for API
version 2026-10-28.endive; the builders replace ids, timestamps and the values the emulator tracks, and
reset example-only values (discounts, tiers, transform_quantity, ...) to what a plain object has.
"""

import copy
import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

API_VERSION = "2026-10-28.endive"
FIXTURES = Path(__file__).with_name("fixtures3.json")

Obj = dict[str, Any]


@functools.cache
def _resources() -> dict[str, Obj]:
    with FIXTURES.open(encoding="utf-8") as handle:
        return json.load(handle)["resources"]


def shape(resource: str) -> Obj:
    """A deep copy of Stripe's example object for ``resource`` (e.g. "billing.meter")."""
    return copy.deepcopy(_resources()[resource])


def list_object(data: list[Obj], *, has_more: bool, url: str) -> Obj:
    """Stripe's list envelope."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def customer(object_id: str, created: int, params: Obj, invoice_prefix: str) -> Obj:
    obj = shape("customer")
    obj.update(
        id=object_id,
        created=created,
        livemode=False,
        name=params.get("name"),
        email=params.get("email"),
        description=params.get("description"),
        metadata=dict(params.get("metadata") or {}),
        discount=None,
        currency=None,
        invoice_prefix=invoice_prefix,
        next_invoice_sequence=1,
        shipping=None,
    )
    return obj


def product(object_id: str, created: int, params: Obj) -> Obj:
    obj = shape("product")
    obj.update(
        id=object_id,
        created=created,
        updated=created,
        livemode=False,
        name=params["name"],
        description=params.get("description"),
        metadata=dict(params.get("metadata") or {}),
        default_price=None,
        package_dimensions=None,
        unit_label=params.get("unit_label"),
        type="service",
    )
    return obj


def price(object_id: str, created: int, params: Obj, product_id: str, unit_amount_decimal: Decimal) -> Obj:
    """A recurring per-unit price. ``unit_amount`` is null when the decimal amount has a fraction."""
    obj = shape("price")
    recurring = params.get("recurring") or {}
    whole = unit_amount_decimal == unit_amount_decimal.to_integral_value()
    obj.update(
        id=object_id,
        created=created,
        livemode=False,
        active=True,
        currency=params["currency"].lower(),
        product=product_id,
        nickname=params.get("nickname"),
        lookup_key=params.get("lookup_key"),
        metadata=dict(params.get("metadata") or {}),
        custom_unit_amount=None,
        transform_quantity=None,
        unit_amount=int(unit_amount_decimal) if whole else None,
        unit_amount_decimal=format(unit_amount_decimal.normalize(), "f"),
        type="recurring" if recurring else "one_time",
        recurring=None,
    )
    if recurring:
        obj["recurring"] = {
            "interval": recurring.get("interval", "month"),
            "interval_count": int(recurring.get("interval_count", 1)),
            "meter": recurring.get("meter"),
            "usage_type": recurring.get("usage_type", "licensed"),
            "trial_period_days": None,
        }
    return obj


def meter(object_id: str, created: int, params: Obj) -> Obj:
    obj = shape("billing.meter")
    mapping = params.get("customer_mapping") or {}
    value_settings = params.get("value_settings") or {}
    obj.update(
        id=object_id,
        created=created,
        updated=created,
        livemode=False,
        display_name=params["display_name"],
        event_name=params["event_name"],
        event_time_window=params.get("event_time_window"),
        status="active",
        status_transitions={"deactivated_at": None},
        default_aggregation={"formula": params["default_aggregation"]["formula"]},
        customer_mapping={
            "event_payload_key": mapping.get("event_payload_key", "stripe_customer_id"),
            "type": mapping.get("type", "by_id"),
        },
        value_settings={"event_payload_key": value_settings.get("event_payload_key", "value")},
    )
    return obj


def meter_event(created: int, event_name: str, identifier: str, payload: Obj, timestamp: int) -> Obj:
    obj = shape("billing.meter_event")
    obj.update(
        created=created,
        event_name=event_name,
        identifier=identifier,
        livemode=False,
        payload=dict(payload),
        timestamp=timestamp,
    )
    return obj


def meter_event_adjustment(event_name: str, identifier: str) -> Obj:
    obj = shape("billing.meter_event_adjustment")
    obj.update(cancel={"identifier": identifier}, event_name=event_name, livemode=False, status="pending")
    return obj


def meter_event_summary(object_id: str, meter_id: str, start: int, end: int, value: int) -> Obj:
    obj = shape("billing.meter_event_summary")
    obj.update(id=object_id, meter=meter_id, start_time=start, end_time=end, aggregated_value=value)
    return obj


def subscription_item(
    object_id: str, created: int, price_obj: Obj, subscription_id: str, period: tuple[int, int]
) -> Obj:
    """A subscription item; in 2025-03-31.basil and later the current period lives on the item."""
    obj = shape("subscription_item")
    obj.update(
        id=object_id,
        created=created,
        metadata={},
        price=copy.deepcopy(price_obj),
        plan=plan_from_price(price_obj),
        quantity=None if _metered(price_obj) else 1,
        subscription=subscription_id,
        current_period_start=period[0],
        current_period_end=period[1],
        billing_thresholds=None,
    )
    return obj


def _metered(price_obj: Obj) -> bool:
    return bool(price_obj.get("recurring") and price_obj["recurring"].get("usage_type") == "metered")


def plan_from_price(price_obj: Obj) -> Obj:
    """The legacy ``plan`` view of a recurring price that Stripe still returns on subscription items."""
    plan = shape("subscription_item")["plan"]
    recurring = price_obj.get("recurring") or {}
    plan.update(
        id=price_obj["id"],
        active=price_obj["active"],
        amount=price_obj["unit_amount"],
        amount_decimal=price_obj["unit_amount_decimal"],
        billing_scheme="per_unit",
        created=price_obj["created"],
        currency=price_obj["currency"],
        interval=recurring.get("interval", "month"),
        interval_count=recurring.get("interval_count", 1),
        livemode=False,
        metadata=dict(price_obj["metadata"]),
        meter=recurring.get("meter"),
        nickname=price_obj["nickname"],
        product=price_obj["product"],
        transform_usage=None,
        usage_type=recurring.get("usage_type", "licensed"),
    )
    return plan


def subscription(
    object_id: str, created: int, params: Obj, currency: str, anchor: int, url_items: list[Obj]
) -> Obj:
    obj = shape("subscription")
    obj.update(
        id=object_id,
        created=created,
        start_date=created,
        livemode=False,
        customer=params["customer"],
        currency=currency,
        billing_cycle_anchor=anchor,
        billing_cycle_anchor_config=None,
        cancel_at=None,
        cancel_at_period_end=False,
        canceled_at=None,
        ended_at=None,
        collection_method=params.get("collection_method", "charge_automatically"),
        metadata=dict(params.get("metadata") or {}),
        latest_invoice=None,
        next_pending_invoice_item_invoice=None,
        pause_collection=None,
        pending_update=None,
        status="active",
        trial_end=None,
        trial_start=None,
        test_clock=None,
        items=list_object(url_items, has_more=False, url=f"/v1/subscription_items?subscription={object_id}"),
    )
    return obj


def invoice_line(
    object_id: str, invoice_id: str | None, item: Obj, quantity: int, amount: int, period: tuple[int, int]
) -> Obj:
    line = shape("invoice")["lines"]["data"][0]
    price_obj = item["price"]
    line.update(
        id=object_id,
        invoice=invoice_id,
        amount=amount,
        subtotal=amount,
        currency=price_obj["currency"],
        description=_line_description(quantity, price_obj),
        discountable=True,
        period={"start": period[0], "end": period[1]},
        quantity=quantity,
        quantity_decimal=str(quantity),
        subscription=item["subscription"],
        parent={
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": item["subscription"],
                "subscription_item": item["id"],
            },
        },
        pricing={
            "type": "price_details",
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "unit_amount_decimal": price_obj["unit_amount_decimal"],
        },
    )
    return line


def _line_description(quantity: int, price_obj: Obj) -> str:
    name = price_obj.get("nickname") or price_obj["product"]
    return f"{quantity} x {name} (at {price_obj['unit_amount_decimal']} / unit)"


def invoice(
    object_id: str,
    created: int,
    customer_obj: Obj,
    subscription_obj: Obj,
    lines: list[Obj],
    period: tuple[int, int],
    base_url: str,
    *,
    billing_reason: str = "subscription_cycle",
) -> Obj:
    """A subscription invoice in ``draft``; the caller finalizes and pays it."""
    obj = shape("invoice")
    total = sum(line["amount"] for line in lines)
    obj.update(
        id=object_id,
        created=created,
        livemode=False,
        account_name="Switchboard (emulated)",
        amount_due=total,
        amount_paid=0,
        amount_remaining=total,
        amount_overpaid=0,
        attempt_count=0,
        attempted=False,
        auto_advance=True,
        automatically_finalizes_at=None,
        billing_reason=billing_reason,
        collection_method=subscription_obj["collection_method"],
        currency=subscription_obj["currency"],
        customer=customer_obj["id"],
        customer_email=customer_obj["email"],
        customer_name=customer_obj["name"],
        discounts=[],
        due_date=None,
        effective_at=None,
        ending_balance=None,
        from_invoice=None,
        hosted_invoice_url=f"{base_url}/invoices/{object_id}" if object_id else None,
        invoice_pdf=f"{base_url}/invoices/{object_id}/pdf" if object_id else None,
        last_finalization_error=None,
        metadata={},
        next_payment_attempt=None,
        number=None,
        parent={
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription_obj["metadata"]),
                "subscription": subscription_obj["id"],
            },
        },
        subscription=subscription_obj["id"],
        period_start=period[0],
        period_end=period[1],
        status="draft",
        status_transitions={
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        subtotal=total,
        subtotal_excluding_tax=total,
        total=total,
        total_excluding_tax=total,
        total_taxes=[],
        total_discount_amounts=[],
        total_pretax_credit_amounts=[],
        starting_balance=0,
        test_clock=None,
        webhooks_delivered_at=None,
        lines=list_object(lines, has_more=False, url=f"/v1/invoices/{object_id}/lines"),
    )
    return obj


def event(
    object_id: str, created: int, event_type: str, data_object: Obj, request: Obj, **extra_data: Any
) -> Obj:
    obj = shape("event")
    obj.update(
        id=object_id,
        created=created,
        type=event_type,
        api_version=API_VERSION,
        livemode=False,
        pending_webhooks=0,
        request=request,
        data={"object": copy.deepcopy(data_object), **extra_data},
    )
    return obj
