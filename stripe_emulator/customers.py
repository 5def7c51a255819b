"""Customers (``/v1/customers``)."""

from typing import Any

from stripe_emulator import objects
from stripe_emulator.store import RequestContext, Store, newest_first, paginate, update_metadata

Obj = dict[str, Any]


def create_customer(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/customers: emits ``customer.created``."""
    prefix = store.new_id("", 8).upper()
    obj = objects.customer(store.new_id("cus_", 14), store.now_int(), params, prefix)
    store.customers[obj["id"]] = obj
    store.emit("customer.created", obj, ctx)
    return obj


def retrieve_customer(store: Store, ctx: RequestContext, params: Obj, customer_id: str) -> Obj:
    return store.get(store.customers, "customer", customer_id)


def update_customer(store: Store, ctx: RequestContext, params: Obj, customer_id: str) -> Obj:
    """POST /v1/customers/{id}: name, email, description, metadata; emits ``customer.updated``."""
    obj = store.get(store.customers, "customer", customer_id)
    for key in ("name", "email", "description"):
        if key in params:
            obj[key] = params[key] or None
    update_metadata(obj, params.get("metadata"))
    store.emit("customer.updated", obj, ctx)
    return obj


def list_customers(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    customers = newest_first(store.customers.values())
    if params.get("email"):
        customers = [c for c in customers if c["email"] == params["email"]]
    return paginate(customers, params, "/v1/customers")
