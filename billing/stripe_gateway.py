"""The one module that talks to Stripe (DESIGN.md): the official SDK's
`StripeClient`, `client.v1...` and the Billing Meters API. Everything else in
billing calls these functions and gets plain values back, and Stripe's errors
become three kinds the callers act on: unavailable (retry later), rate limited
(back off this customer and meter), rejected (a request Stripe will never take).

With `STRIPE_SECRET_KEY` unset the gateway is not configured and every call
raises `NotConfigured`: usage waits in the push backlog until it is. Tests and
the quickstart point the same SDK at the offline emulator (`STRIPE_API_BASE`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import stripe
from django.conf import settings


class GatewayError(Exception):
    """A Stripe call that did not go through."""

    def __init__(self, message: str, *, code: str = "", param: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.status = status


class NotConfigured(GatewayError):
    """No Stripe key: nothing is sent, nothing is lost."""


class Unavailable(GatewayError):
    """Stripe (or the network to it) failed; the same call may succeed later."""


class RateLimited(Unavailable):
    """429: too many calls, or a concurrent call for the same customer and meter."""


class Rejected(GatewayError):
    """Stripe refused the request itself (4xx); retrying the same call won't help."""


class SignatureInvalid(GatewayError):
    """A webhook whose signature or payload doesn't verify."""


def _as_error(error: stripe.StripeError) -> GatewayError:
    message = error.user_message or str(error) or type(error).__name__
    code = error.code or ""
    param = getattr(error, "param", "") or ""
    status = error.http_status
    if isinstance(error, stripe.RateLimitError) or status == 429:
        return RateLimited(message, code=code or "rate_limit", status=status)
    if isinstance(error, stripe.APIConnectionError | stripe.APIError) or (status or 0) >= 500:
        return Unavailable(message, code=code or "api_error", status=status)
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return NotConfigured(message, code=code or "authentication", status=status)
    return Rejected(message, code=code, param=param, status=status)


def configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str, retries: int) -> stripe.StripeClient:
    addresses: dict[str, str] = {"api": api_base} if api_base else {}
    return stripe.StripeClient(
        api_key,
        base_addresses=addresses,  # type: ignore[arg-type]
        max_network_retries=retries,
    )


def client() -> stripe.StripeClient:
    if not configured():
        raise NotConfigured("Stripe is not configured (STRIPE_SECRET_KEY is unset).", code="not_configured")
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_MAX_NETWORK_RETRIES)


def _call(method: Any, *args: Any, idempotency_key: str | None = None, **params: Any) -> dict[str, Any]:
    options = {"idempotency_key": idempotency_key} if idempotency_key else None
    try:
        result = method(*args, params=params, options=options) if options else method(*args, params=params)
    except stripe.StripeError as error:
        raise _as_error(error) from error
    return result.to_dict(recursive=True) if hasattr(result, "to_dict") else dict(result)


def timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def minor_units(unit_price: Decimal) -> str:
    """A price per unit in the currency's minor unit (cents), as Stripe's
    `unit_amount_decimal` string: at most 12 decimal places, no exponent."""
    cents = (unit_price * 100).quantize(Decimal("1.000000000000")).normalize()
    return format(cents, "f")


# --- customers, meters, products and prices -------------------------------------------


def create_customer(*, org_id: int, name: str, email: str) -> str:
    customer = _call(
        client().v1.customers.create,
        idempotency_key=f"switchboard-customer-{org_id}",
        name=name,
        email=email,
        metadata={"org_id": str(org_id)},
    )
    return str(customer["id"])


def find_meter(event_name: str) -> str | None:
    """The active Billing Meter for `event_name`, if one exists (a meter
    created before our record of it was saved)."""
    meters = _call(client().v1.billing.meters.list, status="active", limit=100)
    for meter in meters.get("data", []):
        if meter.get("event_name") == event_name:
            return str(meter["id"])
    return None


def create_meter(*, event_name: str, display_name: str) -> str:
    meter = _call(
        client().v1.billing.meters.create,
        idempotency_key=f"switchboard-meter-{event_name}",
        display_name=display_name[:250],
        event_name=event_name,
        default_aggregation={"formula": "sum"},
        customer_mapping={"event_payload_key": "stripe_customer_id", "type": "by_id"},
        value_settings={"event_payload_key": "value"},
    )
    return str(meter["id"])


def create_product(*, key: str, name: str) -> str:
    product = _call(
        client().v1.products.create,
        idempotency_key=f"switchboard-product-{key}",
        name=name,
        metadata={"switchboard_meter": key},
    )
    return str(product["id"])


def create_price(
    *, version_id: int, product: str, meter: str, unit_price: Decimal, currency: str, nickname: str
) -> str:
    price = _call(
        client().v1.prices.create,
        idempotency_key=f"switchboard-price-{version_id}",
        product=product,
        currency=currency,
        unit_amount_decimal=minor_units(unit_price),
        recurring={"interval": "month", "usage_type": "metered", "meter": meter},
        nickname=nickname[:250],
        metadata={"price_version": str(version_id)},
    )
    return str(price["id"])


# --- subscriptions ---------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedSubscription:
    id: str
    status: str
    items: dict[str, str]  # price id -> subscription item id


def create_subscription(
    *, org_id: int, customer: str, prices: list[str], start: datetime, anchor: datetime
) -> CreatedSubscription:
    """The organization's one subscription, periods anchored at 00:00 UTC on the
    1st (`anchor` is the next 1st), backdated to the current period's start so
    the whole period's usage is invoiced, no proration."""
    subscription = _call(
        client().v1.subscriptions.create,
        idempotency_key=f"switchboard-subscription-{org_id}-{'-'.join(sorted(prices))}",
        customer=customer,
        items=[{"price": price} for price in prices],
        billing_cycle_anchor=timestamp(anchor),
        backdate_start_date=timestamp(start),
        proration_behavior="none",
        metadata={"org_id": str(org_id)},
    )
    items = {item["price"]["id"]: item["id"] for item in subscription["items"]["data"]}
    return CreatedSubscription(id=str(subscription["id"]), status=str(subscription["status"]), items=items)


def add_subscription_item(*, subscription: str, price: str) -> str:
    item = _call(
        client().v1.subscription_items.create,
        idempotency_key=f"switchboard-item-{subscription}-{price}",
        subscription=subscription,
        price=price,
        proration_behavior="none",
    )
    return str(item["id"])


def remove_subscription_item(item_id: str) -> None:
    try:
        _call(client().v1.subscription_items.delete, item_id, proration_behavior="none")
    except Rejected as error:
        if error.status != 404:  # already gone: nothing to remove
            raise


def cancel_subscription(subscription_id: str) -> None:
    try:
        _call(client().v1.subscriptions.cancel, subscription_id)
    except Rejected as error:
        if error.status != 404:
            raise


# --- usage -------------------------------------------------------------------------------


def send_meter_event(
    *, event_name: str, customer: str, value: int, identifier: str, occurred_at: datetime
) -> None:
    """One meter event. `identifier` makes a resend of the same event harmless
    (Stripe dedupes it for at least 24 h)."""
    _call(
        client().v1.billing.meter_events.create,
        event_name=event_name,
        payload={"stripe_customer_id": customer, "value": str(int(value))},
        identifier=identifier,
        timestamp=timestamp(occurred_at),
    )


def cancel_meter_event(*, event_name: str, identifier: str) -> None:
    """Cancel a sent event by identifier (only within 24 h of Stripe receiving it)."""
    _call(
        client().v1.billing.meter_event_adjustments.create,
        event_name=event_name,
        type="cancel",
        cancel={"identifier": identifier},
    )


@dataclass(frozen=True)
class Summary:
    start: datetime
    end: datetime
    value: Decimal


def meter_summaries(
    *, meter: str, customer: str, start: datetime, end: datetime, window: str = "day"
) -> tuple[list[Summary], int]:
    """Stripe's aggregated usage of one customer on one meter, per `window`
    (day or hour) over [start, end), both aligned to the window. Returns the
    summaries and the number of API calls it took (1 plus pagination)."""
    summaries: list[Summary] = []
    calls = 0
    params: dict[str, Any] = {
        "customer": customer,
        "start_time": timestamp(start),
        "end_time": timestamp(end),
        "value_grouping_window": window,
        "limit": 100,
    }
    while True:
        page = _call(client().v1.billing.meters.event_summaries.list, meter, **params)
        calls += 1
        data = page.get("data", [])
        for row in data:
            summaries.append(
                Summary(
                    start=datetime.fromtimestamp(row["start_time"], tz=UTC),
                    end=datetime.fromtimestamp(row["end_time"], tz=UTC),
                    value=Decimal(str(row["aggregated_value"])),
                )
            )
        if not page.get("has_more") or not data:
            return summaries, calls
        params["starting_after"] = data[-1]["id"]


# --- invoices and webhooks ---------------------------------------------------------------


def preview_invoice(*, customer: str, subscription: str) -> dict[str, Any]:
    return _call(client().v1.invoices.create_preview, customer=customer, subscription=subscription)


def events_since(moment: datetime) -> list[dict[str, Any]]:
    """Stripe's events created at or after `moment`, oldest first, from the
    Events API (Stripe keeps 30 days of them). It lists newest first; paging
    stops at the first older event, in case `created[gte]` was not applied."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"created": {"gte": timestamp(moment)}, "limit": 100}
    while True:
        try:
            page = client().v1.events.list(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as error:
            raise _as_error(error) from error
        data = [event.to_dict(recursive=True, for_json=True) for event in page.data]
        newer = [event for event in data if int(event.get("created") or 0) >= timestamp(moment)]
        found.extend(newer)
        if not page.has_more or len(newer) < len(data) or not data:
            return list(reversed(found))
        params["starting_after"] = data[-1]["id"]


# How far a webhook's signed timestamp may be from our clock, either way: older
# is a replay, newer than our clock by more than this is not Stripe's.
WEBHOOK_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE


class NotAnObject(SignatureInvalid):
    """A validly signed body that is JSON but not a JSON object."""


def construct_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """Verify a webhook's signature against the endpoint secret (its timestamp
    within the tolerance, in the past or the future) and parse the body. The
    body is parsed here rather than by the SDK, which assumes a JSON object."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise NotConfigured("STRIPE_WEBHOOK_SECRET is unset; webhooks can't be verified.")
    try:
        stripe.WebhookSignature.verify_header(payload, signature or "", secret, WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as error:
        raise SignatureInvalid("The Stripe-Signature header does not verify.") from error
    except ValueError as error:  # a body that isn't UTF-8
        raise SignatureInvalid("The payload is not a Stripe event.") from error
    if _signed_at(signature or "") > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureInvalid("The Stripe-Signature header does not verify: its timestamp is in the future.")
    try:
        event = json.loads(payload, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise SignatureInvalid("The payload is not a Stripe event.") from error
    if not isinstance(event, dict):
        raise NotAnObject("The payload is not a Stripe event: it is JSON but not an object.")
    return event


def _signed_at(header: str) -> int:
    """The `t=` of a Stripe-Signature header the SDK has verified."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            return int(value)
    raise SignatureInvalid("The Stripe-Signature header does not verify.")


def _no_constant(name: str) -> Any:
    # NaN and Infinity aren't JSON, and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{name} is not JSON")
