"""Products and prices (``/v1/products``, ``/v1/prices``)."""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import invalid, missing_param
from stripe_emulator.store import (
    RequestContext,
    Store,
    newest_first,
    paginate,
    parse_bool,
    parse_int,
    require,
    update_metadata,
)

Obj = dict[str, Any]

_DECIMAL = re.compile(r"^\d+(\.\d{1,12})?$")
_INTERVALS = ("day", "week", "month", "year")


def create_product(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/products: ``name`` is required."""
    require(params, "name")
    obj = objects.product(store.new_id("prod_", 14), store.now_int(), params)
    store.products[obj["id"]] = obj
    return obj


def retrieve_product(store: Store, ctx: RequestContext, params: Obj, product_id: str) -> Obj:
    return store.get(store.products, "product", product_id)


def _unit_amount(params: Obj) -> Decimal:
    """Exactly one of ``unit_amount`` (integer, smallest currency unit) and ``unit_amount_decimal``
    (decimal string with at most 12 decimal places) is required."""
    has_int, has_decimal = "unit_amount" in params, "unit_amount_decimal" in params
    if has_int and has_decimal:
        raise invalid("You may only specify one of these parameters: unit_amount, unit_amount_decimal.")
    if has_int:
        amount = parse_int(params["unit_amount"], "unit_amount")
        if amount < 0:
            raise invalid("Invalid unit_amount: must be non-negative", param="unit_amount")
        return Decimal(amount)
    if has_decimal:
        text = str(params["unit_amount_decimal"])
        if not _DECIMAL.match(text):
            raise invalid(
                "Invalid decimal: unit_amount_decimal must be a non-negative decimal "
                "with at most 12 decimal places",
                param="unit_amount_decimal",
                code="parameter_invalid_decimal",
            )
        try:
            return Decimal(text)
        except InvalidOperation:
            raise invalid(f"Invalid decimal: {text}", param="unit_amount_decimal") from None
    raise missing_param("unit_amount")


def create_price(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/prices.

    Rules: currency required; unit_amount xor unit_amount_decimal; product or product_data[name];
    ``recurring[usage_type]=metered`` requires ``recurring[meter]`` naming an existing active meter
    (Stripe removed meterless metered prices in 2025-03-31.basil); ``lookup_key`` unique unless
    ``transfer_lookup_key=true``.
    """
    currency = str(require(params, "currency"))
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise invalid(f"Invalid currency: {currency}", param="currency")
    amount = _unit_amount(params)
    recurring = params.get("recurring")
    if recurring is not None:
        if not isinstance(recurring, dict):
            raise invalid("Invalid hash", param="recurring")
        interval = recurring.get("interval")
        if interval is None:
            raise missing_param("recurring[interval]")
        if interval not in _INTERVALS:
            raise invalid(f"Invalid recurring[interval]: {interval}", param="recurring[interval]")
        usage_type = recurring.get("usage_type", "licensed")
        if usage_type not in ("licensed", "metered"):
            raise invalid(f"Invalid recurring[usage_type]: {usage_type}", param="recurring[usage_type]")
        if usage_type == "metered":
            meter_id = recurring.get("meter")
            if not meter_id:
                raise invalid(
                    "Metered prices must be backed by a meter: pass recurring[meter].",
                    param="recurring[meter]",
                    code="parameter_missing",
                )
            meter = store.get(store.meters, "billing meter", meter_id, param="recurring[meter]")
            if meter["status"] != "active":
                raise invalid(f"Meter {meter_id} is not active.", param="recurring[meter]")
        elif recurring.get("meter"):
            raise invalid(
                "recurring[meter] requires recurring[usage_type]=metered.", param="recurring[meter]"
            )
    if params.get("product"):
        product_id = store.get(store.products, "product", params["product"], param="product")["id"]
    elif isinstance(params.get("product_data"), dict):
        product_id = create_product(store, ctx, params["product_data"])["id"]
    else:
        raise missing_param("product")
    lookup_key = params.get("lookup_key")
    if lookup_key:
        holder = next((p for p in store.prices.values() if p["lookup_key"] == lookup_key), None)
        if holder is not None:
            if not parse_bool(params.get("transfer_lookup_key", "false"), "transfer_lookup_key"):
                raise invalid(
                    f"A price (`{holder['id']}`) already uses that lookup key.",
                    param="lookup_key",
                    code="lookup_key_exists",  # emulator's choice; Stripe answers 400 invalid_request_error
                )
            holder["lookup_key"] = None
    obj = objects.price(store.new_id("price_"), store.now_int(), params, product_id, amount)
    store.prices[obj["id"]] = obj
    return obj


def retrieve_price(store: Store, ctx: RequestContext, params: Obj, price_id: str) -> Obj:
    return store.get(store.prices, "price", price_id)


def update_price(store: Store, ctx: RequestContext, params: Obj, price_id: str) -> Obj:
    """POST /v1/prices/{id}: ``active=false`` archives; nickname, lookup_key, metadata."""
    obj = store.get(store.prices, "price", price_id)
    if "active" in params:
        obj["active"] = parse_bool(params["active"], "active")
    for key in ("nickname", "lookup_key"):
        if key in params:
            obj[key] = params[key] or None
    update_metadata(obj, params.get("metadata"))
    return obj


def list_prices(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """GET /v1/prices: filters ``active``, ``lookup_keys[]``, ``product``, ``currency``, ``type``."""
    prices = newest_first(store.prices.values())
    if "active" in params:
        active = parse_bool(params["active"], "active")
        prices = [p for p in prices if p["active"] == active]
    if params.get("lookup_keys"):
        keys = params["lookup_keys"]
        keys = keys if isinstance(keys, list) else [keys]
        prices = [p for p in prices if p["lookup_key"] in keys]
    for key in ("product", "currency", "type"):
        if params.get(key):
            prices = [p for p in prices if p[key] == params[key]]
    return paginate(prices, params, "/v1/prices")
