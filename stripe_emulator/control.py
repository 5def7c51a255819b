"""The JSON control API under ``/_emulator/`` (no auth) and the hosted invoice page.

config (GET/POST), clock (GET/POST ``advance_seconds`` or ``to``; backwards only while empty), reset,
state, webhooks (``?wait=``), customers/{id}/payments, invoices/{id}/pay, events/{id}/resend.
"""

import html
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from stripe_emulator import subscriptions
from stripe_emulator.responses import Response, json_response

if TYPE_CHECKING:
    from stripe_emulator.server import EmulatorServer

Obj = dict[str, Any]


def handle(emulator: "EmulatorServer", method: str, path: str, query: str, data: Obj) -> Response:
    """One control call; the caller holds ``store.lock``."""
    store = emulator.store
    if path == "/_emulator/config":
        if method == "POST":
            return json_response(200, store.configure(data))
        return json_response(200, store.public_config())
    if path == "/_emulator/clock":
        if method == "POST":
            if "to" in data:
                target = float(data["to"])
            else:
                target = store.now() + float(data.get("advance_seconds", 0))
            invoices = subscriptions.advance_clock(store, target)
            return json_response(200, {"now": store.now_int(), "invoices": invoices})
        return json_response(200, {"now": store.now_int()})
    if path == "/_emulator/reset" and method == "POST":
        store.reset()
        emulator.dispatcher.reset()
        return json_response(200, {"reset": True})
    if path == "/_emulator/state":
        return json_response(200, state(emulator))
    if path == "/_emulator/webhooks":
        wait = parse_qs(query).get("wait")
        if wait:
            store.lock.release()
            try:
                emulator.dispatcher.wait_idle(float(wait[0]))
            finally:
                store.lock.acquire()
        return json_response(200, {"attempts": emulator.dispatcher.snapshot()})
    if method == "POST" and (found := re.fullmatch(r"/_emulator/customers/([^/]+)/payments", path)):
        store.get(store.customers, "customer", found.group(1))
        store.payment_failures[found.group(1)] = bool(data.get("fail", True))
        return json_response(
            200, {"customer": found.group(1), "fail": store.payment_failures[found.group(1)]}
        )
    if method == "POST" and (found := re.fullmatch(r"/_emulator/invoices/([^/]+)/pay", path)):
        invoice = store.get(store.invoices, "invoice", found.group(1))
        subscriptions.attempt_payment(store, invoice)
        return json_response(200, invoice)
    if method == "POST" and (found := re.fullmatch(r"/_emulator/events/([^/]+)/resend", path)):
        event = store.get(store.events, "event", found.group(1))
        emulator.dispatcher.enqueue(event, resend=True)
        return json_response(200, {"resent": event["id"]})
    return json_response(
        404,
        {"error": {"type": "invalid_request_error", "message": f"No control endpoint {method} {path}"}},
    )


def state(emulator: "EmulatorServer") -> Obj:
    """Counts for ``GET /_emulator/state``."""
    store = emulator.store
    counters = store.counters
    return {
        "now": store.now_int(),
        "customers": len(store.customers),
        "products": len(store.products),
        "prices": len(store.prices),
        "meters": len(store.meters),
        "subscriptions": len(store.subscriptions),
        "subscription_items": len(store.items),
        "invoices": len(store.invoices),
        "events": len(store.events),
        "meter_events": {
            "counted": counters["meter_events.counted"],
            "dropped": counters["meter_events.dropped"],
            "deduplicated": counters["meter_events.deduplicated"],
            "customer_not_found": counters["meter_events.customer_not_found"],
        },
        "adjustments": counters["meter_event_adjustments"],
        "concurrent_rejections": counters["meter_events.concurrent_rejections"],
        "idempotent_replays": counters["idempotent_replays"],
        "requests_by_endpoint": dict(store.requests_by_endpoint),
        "requests_total": sum(store.requests_by_endpoint.values()),
        "webhook_attempts": len(emulator.dispatcher.attempts),
    }


def invoice_page(emulator: "EmulatorServer", path: str) -> Response:
    """The hosted invoice page (``hosted_invoice_url``) and a placeholder PDF (``invoice_pdf``)."""
    found = re.fullmatch(r"/invoices/([^/]+)(/pdf)?", path)
    with emulator.store.lock:
        invoice = emulator.store.invoices.get(found.group(1)) if found else None
        if invoice is None or found is None:
            return Response(404, b"Not found", "text/plain")
        invoice = json.loads(json.dumps(invoice))
    if found.group(2):
        summary = f"{invoice['number']} total {invoice['total']} {invoice['currency']}"
        text = f"%PDF-1.4\n% Emulated invoice {summary}\n%%EOF\n"
        return Response(200, text.encode(), "application/pdf")
    rows = "".join(
        f"<tr><td>{html.escape(line['description'] or '')}</td><td>{line['quantity']}</td>"
        f"<td>{line['amount']}</td></tr>"
        for line in invoice["lines"]["data"]
    )
    page = (
        f"<!doctype html><title>Invoice {html.escape(str(invoice['number']))}</title>"
        f"<h1>Invoice {html.escape(str(invoice['number']))}</h1>"
        f"<p>Status: {invoice['status']} · Customer: {html.escape(invoice['customer'])}</p>"
        f"<table><tr><th>Line</th><th>Quantity</th><th>Amount</th></tr>{rows}</table>"
        f"<p>Total: {invoice['total']} {invoice['currency'].upper()} (smallest unit)</p>"
    )
    return Response(200, page.encode(), "text/html; charset=utf-8")
