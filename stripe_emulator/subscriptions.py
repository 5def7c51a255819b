"""Subscriptions, subscription items, invoices, the upcoming-invoice preview and period closes.

Periods are calendar months: the first runs from creation to ``billing_cycle_anchor`` (default: the
1st of next month, 00:00 UTC), each later one for a month. Closing a period creates the invoice
(draft -> ``invoice.created``), finalizes it (open -> ``invoice.finalized``) and attempts payment
(``invoice.paid``, or ``invoice.payment_failed`` when payments are switched to fail), then moves the
subscription on (``customer.subscription.updated``).
"""

import calendar
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import StripeError, invalid, missing_param
from stripe_emulator.meters import aggregate, visible_records
from stripe_emulator.store import (
    RequestContext,
    Store,
    newest_first,
    paginate,
    parse_int,
    require,
    update_metadata,
)

Obj = dict[str, Any]

_PRORATION = ("create_prorations", "none", "always_invoice")
_COLLECTION = ("charge_automatically", "send_invoice")
_LIVE = ("active", "past_due")


def first_of_next_month(ts: int) -> int:
    moment = datetime.fromtimestamp(ts, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def add_month(ts: int) -> int:
    """The same day and time one month later, clamped to the month's last day (Stripe's anchoring)."""
    moment = datetime.fromtimestamp(ts, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def line_amount(quantity: int, unit_amount_decimal: str) -> int:
    """quantity x unit_amount_decimal in the smallest currency unit, rounded half-up to an integer."""
    exact = Decimal(quantity) * Decimal(unit_amount_decimal)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- subscriptions --------------------------------------------------------------------------------


def _recurring_price(store: Store, price_id: Any, param: str) -> Obj:
    """An existing, active, recurring price; Stripe refuses archived or one-time prices on subscriptions."""
    if not price_id:
        raise missing_param(param)
    price = store.get(store.prices, "price", price_id, param=param)
    if not price["active"]:
        raise invalid(
            f"The price specified ({price_id}) is inactive. This field only accepts active prices.",
            param=param,
        )
    if price["type"] != "recurring":
        raise invalid(f"The price specified ({price_id}) is not recurring.", param=param)
    return price


def create_subscription(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/subscriptions. Rules: an existing customer; at least one item; no price twice
    (Stripe: 400); one currency; ``billing_cycle_anchor`` in the future; send_invoice needs
    ``days_until_due``. Emits ``customer.subscription.created``."""
    customer = store.get(store.customers, "customer", require(params, "customer"), param="customer")
    items = params.get("items")
    if not isinstance(items, list) or not items:
        raise missing_param("items")
    prices = [
        _recurring_price(store, (item or {}).get("price"), f"items[{i}][price]")
        for i, item in enumerate(items)
    ]
    seen: set[str] = set()
    for price in prices:
        if price["id"] in seen:
            raise invalid(
                f"Cannot add multiple subscription items with the same price: {price['id']}.",
                param="items",
                code="subscription_item_duplicate_price",  # emulator's code; Stripe answers 400
            )
        seen.add(price["id"])
    currencies = {price["currency"] for price in prices}
    if len(currencies) > 1:
        raise invalid("All prices on a subscription must have the same currency.", param="items")
    if params.get("proration_behavior", "create_prorations") not in _PRORATION:
        raise invalid("Invalid proration_behavior", param="proration_behavior")
    collection = params.get("collection_method", "charge_automatically")
    if collection not in _COLLECTION:
        raise invalid("Invalid collection_method", param="collection_method")
    if collection == "send_invoice" and not params.get("days_until_due"):
        raise missing_param("days_until_due")
    now = store.now_int()
    if params.get("billing_cycle_anchor"):
        anchor = parse_int(params["billing_cycle_anchor"], "billing_cycle_anchor")
        if anchor <= now:
            raise invalid("billing_cycle_anchor must be in the future.", param="billing_cycle_anchor")
    else:
        anchor = first_of_next_month(now)
    start = now
    if params.get("backdate_start_date"):
        # Stripe: the subscription's first period starts at this past moment.
        start = parse_int(params["backdate_start_date"], "backdate_start_date")
        if start > now:
            raise invalid("backdate_start_date must be in the past.", param="backdate_start_date")
    sub_id = store.new_id("sub_")
    period = (start, anchor)
    sub_items = [
        objects.subscription_item(store.new_id("si_", 14), now, price, sub_id, period) for price in prices
    ]
    for item, spec in zip(sub_items, items, strict=True):
        if item["quantity"] is not None and spec.get("quantity"):
            item["quantity"] = parse_int(spec["quantity"], "items[quantity]")
        item["metadata"] = dict(spec.get("metadata") or {})
        store.items[item["id"]] = item
    sub = objects.subscription(sub_id, now, params, prices[0]["currency"], anchor, sub_items)
    sub["collection_method"] = collection
    if collection == "send_invoice":
        sub["days_until_due"] = parse_int(params["days_until_due"], "days_until_due")
    store.subscriptions[sub_id] = sub
    store.periods[sub_id] = period
    customer["currency"] = customer["currency"] or sub["currency"]
    store.emit("customer.subscription.created", sub, ctx)
    return sub


def retrieve_subscription(store: Store, ctx: RequestContext, params: Obj, sub_id: str) -> Obj:
    return store.get(store.subscriptions, "subscription", sub_id)


def update_subscription(store: Store, ctx: RequestContext, params: Obj, sub_id: str) -> Obj:
    """POST /v1/subscriptions/{id}: metadata and description; emits ``customer.subscription.updated``."""
    sub = store.get(store.subscriptions, "subscription", sub_id)
    previous = {"metadata": dict(sub["metadata"])}
    update_metadata(sub, params.get("metadata"))
    if "description" in params:
        sub["description"] = params["description"] or None
    store.emit("customer.subscription.updated", sub, ctx, previous_attributes=previous)
    return sub


def cancel_subscription(store: Store, ctx: RequestContext, params: Obj, sub_id: str) -> Obj:
    """DELETE /v1/subscriptions/{id}: cancels now (status canceled); emits ``customer.subscription.deleted``.
    Like Stripe's default (``invoice_now=false``), the partial period is not invoiced."""
    sub = store.get(store.subscriptions, "subscription", sub_id)
    if sub["status"] == "canceled":
        raise invalid("This subscription has already been canceled.", code="subscription_canceled")
    now = store.now_int()
    sub.update(status="canceled", canceled_at=now, ended_at=now)
    sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
    store.emit("customer.subscription.deleted", sub, ctx)
    return sub


def list_subscriptions(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    subs = newest_first(store.subscriptions.values())
    if params.get("customer"):
        subs = [s for s in subs if s["customer"] == params["customer"]]
    status = params.get("status")
    if status and status != "all":
        subs = [s for s in subs if s["status"] == status]
    elif not status:
        subs = [s for s in subs if s["status"] != "canceled"]
    return paginate(subs, params, "/v1/subscriptions")


# -- subscription items ---------------------------------------------------------------------------


def create_item(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/subscription_items: a price already on the subscription is a 400, as on Stripe."""
    sub = store.get(
        store.subscriptions, "subscription", require(params, "subscription"), param="subscription"
    )
    if sub["status"] == "canceled":
        raise invalid("A canceled subscription can't be updated.", param="subscription")
    price = _recurring_price(store, params.get("price"), "price")
    if price["currency"] != sub["currency"]:
        raise invalid("The price's currency doesn't match the subscription's.", param="price")
    if any(item["price"]["id"] == price["id"] for item in sub["items"]["data"]):
        raise invalid(
            f"Cannot add multiple subscription items with the same price: {price['id']}.",
            param="price",
            code="subscription_item_duplicate_price",
        )
    if params.get("proration_behavior", "create_prorations") not in _PRORATION:
        raise invalid("Invalid proration_behavior", param="proration_behavior")
    item = objects.subscription_item(
        store.new_id("si_", 14), store.now_int(), price, sub["id"], store.periods[sub["id"]]
    )
    if item["quantity"] is not None and params.get("quantity"):
        item["quantity"] = parse_int(params["quantity"], "quantity")
    item["metadata"] = dict(params.get("metadata") or {})
    store.items[item["id"]] = item
    sub["items"]["data"].append(item)
    store.emit("customer.subscription.updated", sub, ctx)
    return item


def retrieve_item(store: Store, ctx: RequestContext, params: Obj, item_id: str) -> Obj:
    return store.get(store.items, "subscription item", item_id)


def delete_item(store: Store, ctx: RequestContext, params: Obj, item_id: str) -> Obj:
    """DELETE /v1/subscription_items/{id}. Stripe refuses to remove a subscription's last item (cancel
    the subscription instead). The removed item's usage in the current period is not invoiced."""
    item = store.get(store.items, "subscription item", item_id)
    sub = store.subscriptions[item["subscription"]]
    if len(sub["items"]["data"]) <= 1:
        raise invalid(
            "A subscription must have at least one active price. To cancel the subscription, "
            f"delete it with DELETE /v1/subscriptions/{sub['id']}.",
            code="subscription_last_item",  # emulator's code; Stripe answers 400
        )
    sub["items"]["data"] = [other for other in sub["items"]["data"] if other["id"] != item_id]
    del store.items[item_id]
    store.emit("customer.subscription.updated", sub, ctx)
    return {"id": item_id, "object": "subscription_item", "deleted": True}


def list_items(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    sub = store.get(
        store.subscriptions, "subscription", require(params, "subscription"), param="subscription"
    )
    return paginate(sub["items"]["data"], params, f"/v1/subscription_items?subscription={sub['id']}")


# -- invoices -------------------------------------------------------------------------------------


def _lines(
    store: Store, sub: Obj, period: tuple[int, int], invoice_id: str | None, line_prefix: str
) -> list[Obj]:
    """One line per item: metered quantity = the meter's visible aggregate for the customer over the
    period; licensed quantity = the item's quantity. amount = quantity x unit price, half-up."""
    lines = []
    for item in sub["items"]["data"]:
        price = item["price"]
        meter_id = (price.get("recurring") or {}).get("meter")
        if meter_id:
            meter = store.meters[meter_id]
            quantity = aggregate(meter, visible_records(store, meter, sub["customer"]), *period)
        else:
            quantity = item["quantity"] or 0
        amount = line_amount(quantity, price["unit_amount_decimal"])
        lines.append(
            objects.invoice_line(store.new_id(line_prefix), invoice_id, item, quantity, amount, period)
        )
    return lines


def create_preview(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/invoices/create_preview: the upcoming invoice for the current period so far, from the
    usage summaries can see now (consistency delay applies). Not stored; id ``upcoming_in_...``."""
    sub: Obj | None = None
    if params.get("subscription"):
        sub = store.get(store.subscriptions, "subscription", params["subscription"], param="subscription")
        if params.get("customer") and params["customer"] != sub["customer"]:
            raise invalid("The subscription does not belong to that customer.", param="subscription")
    elif params.get("customer"):
        store.get(store.customers, "customer", params["customer"], param="customer")
        sub = next(
            (
                s
                for s in newest_first(store.subscriptions.values())
                if s["customer"] == params["customer"] and s["status"] in _LIVE
            ),
            None,
        )
    else:
        raise missing_param("customer")
    if sub is None or sub["status"] not in _LIVE:
        raise invalid("No upcoming invoices for customer", param="customer", code="invoice_upcoming_none")
    period = store.periods[sub["id"]]
    lines = _lines(store, sub, period, None, "il_tmp_")
    customer = store.customers[sub["customer"]]
    preview = objects.invoice(store.new_id("upcoming_in_"), store.now_int(), customer, sub, lines, period, "")
    preview.update(hosted_invoice_url=None, invoice_pdf=None, billing_reason="upcoming")
    preview["lines"]["url"] = "/v1/invoices/upcoming/lines"
    return preview


def retrieve_invoice(store: Store, ctx: RequestContext, params: Obj, invoice_id: str) -> Obj:
    return store.get(store.invoices, "invoice", invoice_id)


def list_invoice_lines(store: Store, ctx: RequestContext, params: Obj, invoice_id: str) -> Obj:
    invoice = store.get(store.invoices, "invoice", invoice_id)
    return paginate(invoice["lines"]["data"], params, invoice["lines"]["url"])


def list_invoices(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """GET /v1/invoices: filters customer, subscription, status."""
    invoices = newest_first(store.invoices.values())
    for key in ("customer", "subscription", "status"):
        if params.get(key):
            invoices = [i for i in invoices if i[key] == params[key]]
    return paginate(invoices, params, "/v1/invoices")


# -- the clock ------------------------------------------------------------------------------------


def holds_objects(store: Store) -> bool:
    """Whether anything was created or received: objects, events or meter events."""
    tables = (store.customers, store.products, store.prices, store.meters, store.subscriptions)
    return any(tables) or bool(store.invoices or store.events or store.meter_events)


def advance_clock(store: Store, to: float) -> list[str]:
    """Move the emulator clock to ``to`` and close every period that has ended. Returns the ids of
    the invoices created. The clock goes backwards only while the emulator holds no objects (to
    replay a history from its start, as the quickstart's demo does); after that, never."""
    if to < store.now() - 1:
        if holds_objects(store):
            message = "The emulator clock cannot go backwards once it holds objects (reset it first)."
            raise StripeError(400, message, param="to")
        store.offset += to - store.now()
        return []
    store.offset += max(0.0, to - store.now())
    created = []
    while True:
        due = [
            sub
            for sub in store.subscriptions.values()
            if sub["status"] in _LIVE and store.periods[sub["id"]][1] <= store.now()
        ]
        if not due:
            return created
        sub = min(due, key=lambda s: store.periods[s["id"]][1])
        created.append(close_period(store, sub))


def close_period(store: Store, sub: Obj) -> str:
    """Invoice the closed period (draft, finalize, pay) and move the subscription to the next one."""
    start, end = store.periods[sub["id"]]
    customer = store.customers[sub["customer"]]
    invoice_id = store.new_id("in_")
    lines = _lines(store, sub, (start, end), invoice_id, "il_")
    invoice = objects.invoice(invoice_id, end, customer, sub, lines, (start, end), store.base_url)
    store.invoices[invoice_id] = invoice
    store.emit("invoice.created", invoice, None)

    sequence = customer["next_invoice_sequence"]
    customer["next_invoice_sequence"] = sequence + 1
    invoice.update(status="open", number=f"{customer['invoice_prefix']}-{sequence:04d}", effective_at=end)
    invoice["status_transitions"]["finalized_at"] = end
    if sub["collection_method"] == "send_invoice":
        invoice["due_date"] = end + 86400 * int(sub.get("days_until_due") or 30)
    store.emit("invoice.finalized", invoice, None)
    if sub["collection_method"] == "charge_automatically" or invoice["total"] == 0:
        attempt_payment(store, invoice)

    previous = {"latest_invoice": sub["latest_invoice"], "status": sub["status"]}
    next_period = (end, add_month(end))
    store.periods[sub["id"]] = next_period
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = next_period
    sub["latest_invoice"] = invoice_id
    store.emit("customer.subscription.updated", sub, None, previous_attributes=previous)
    return invoice_id


def attempt_payment(store: Store, invoice: Obj) -> bool:
    """Charge an open invoice: ``invoice.paid`` (status paid), or, when payments fail globally or
    for this customer, ``invoice.payment_failed`` (status stays open, attempt_count + 1, subscription
    past_due)."""
    if invoice["status"] != "open":
        raise invalid(f"Invoice {invoice['id']} is {invoice['status']}, not open.")
    sub = store.subscriptions.get(invoice["subscription"])
    failing = store.config["fail_payments"] or store.payment_failures.get(invoice["customer"], False)
    now = store.now_int()
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    if failing and invoice["total"] > 0:
        invoice["next_payment_attempt"] = now + 3 * 86400
        if sub is not None and sub["status"] == "active":
            sub["status"] = "past_due"
        store.emit("invoice.payment_failed", invoice, None)
        return False
    invoice.update(
        status="paid", amount_paid=invoice["amount_due"], amount_remaining=0, next_payment_attempt=None
    )
    invoice["status_transitions"]["paid_at"] = now
    if sub is not None and sub["status"] == "past_due":
        sub["status"] = "active"
    store.emit("invoice.paid", invoice, None)
    return True
