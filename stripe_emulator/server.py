"""HTTP front end: routing, auth, fault switches, idempotency keys, the control API and invoice pages.

``/v1/...`` answers like Stripe (form-encoded requests, JSON responses, ``Request-Id`` header, errors
as ``{"error": {...}}``); ``/_emulator/...`` is the JSON control API (no auth); ``/invoices/<id>`` is
the hosted invoice page.

It is longer than most modules because it is the emulator's whole HTTP surface
in one routing table (every Stripe path the gateway calls, the control API and
the invoice pages); the objects behind the routes live in their own modules.
"""

import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from stripe_emulator import control, customers, meters, objects, prices, subscriptions
from stripe_emulator.errors import StripeError
from stripe_emulator.forms import canonical, parse_form
from stripe_emulator.responses import Response, json_response
from stripe_emulator.state_file import DEFAULT_INTERVAL_SECONDS, StateFile
from stripe_emulator.store import IDEMPOTENCY_SECONDS, IdempotentResult, RequestContext, Store
from stripe_emulator.webhooks import Dispatcher

Obj = dict[str, Any]
_KEY = re.compile(r"^(sk_test_|sk_live_|rk_)\S+$")
_ID = r"([^/]+)"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str  # "POST /v1/customers/{id}", the key of requests_by_endpoint
    handler: Callable[..., Obj]
    slot: bool = False  # meter events: hold the (customer, meter) slot while "processing"
    # With a state file, a write is answered once it is on disk; the calls that come in bursts are
    # saved by the background saver instead (see ``state_file``).
    saved_before_answer: bool = True


def _route(
    method: str,
    template: str,
    handler: Callable[..., Obj],
    *,
    slot: bool = False,
    saved_before_answer: bool = True,
) -> Route:
    pattern = re.compile("^" + re.escape(template).replace(re.escape("{id}"), _ID) + "$")
    return Route(method, pattern, f"{method} {template}", handler, slot, saved_before_answer)


ROUTES = [
    _route("POST", "/v1/customers", customers.create_customer),
    _route("GET", "/v1/customers", customers.list_customers),
    _route("GET", "/v1/customers/{id}", customers.retrieve_customer),
    _route("POST", "/v1/customers/{id}", customers.update_customer),
    _route("POST", "/v1/products", prices.create_product),
    _route("GET", "/v1/products/{id}", prices.retrieve_product),
    _route("POST", "/v1/prices", prices.create_price),
    _route("GET", "/v1/prices", prices.list_prices),
    _route("GET", "/v1/prices/{id}", prices.retrieve_price),
    _route("POST", "/v1/prices/{id}", prices.update_price),
    _route("POST", "/v1/billing/meters", meters.create_meter),
    _route("GET", "/v1/billing/meters", meters.list_meters),
    _route("GET", "/v1/billing/meters/{id}", meters.retrieve_meter),
    _route("POST", "/v1/billing/meters/{id}", meters.update_meter),
    _route("POST", "/v1/billing/meters/{id}/deactivate", meters.deactivate_meter),
    _route("POST", "/v1/billing/meters/{id}/reactivate", meters.reactivate_meter),
    _route("GET", "/v1/billing/meters/{id}/event_summaries", meters.list_event_summaries),
    _route(
        "POST", "/v1/billing/meter_events", meters.create_meter_event, slot=True, saved_before_answer=False
    ),
    _route(
        "POST", "/v1/billing/meter_event_adjustments", meters.create_adjustment, saved_before_answer=False
    ),
    _route("POST", "/v1/subscriptions", subscriptions.create_subscription),
    _route("GET", "/v1/subscriptions", subscriptions.list_subscriptions),
    _route("GET", "/v1/subscriptions/{id}", subscriptions.retrieve_subscription),
    _route("POST", "/v1/subscriptions/{id}", subscriptions.update_subscription),
    _route("DELETE", "/v1/subscriptions/{id}", subscriptions.cancel_subscription),
    _route("POST", "/v1/subscription_items", subscriptions.create_item),
    _route("GET", "/v1/subscription_items", subscriptions.list_items),
    _route("GET", "/v1/subscription_items/{id}", subscriptions.retrieve_item),
    _route("DELETE", "/v1/subscription_items/{id}", subscriptions.delete_item),
    _route("POST", "/v1/invoices/create_preview", subscriptions.create_preview, saved_before_answer=False),
    _route("GET", "/v1/invoices", subscriptions.list_invoices),
    _route("GET", "/v1/invoices/{id}", subscriptions.retrieve_invoice),
    _route("GET", "/v1/invoices/{id}/lines", subscriptions.list_invoice_lines),
    _route("GET", "/v1/events", lambda store, ctx, params: list_events(store, params)),
    _route(
        "GET",
        "/v1/events/{id}",
        lambda store, ctx, params, event_id: store.get(store.events, "event", event_id),
    ),
]


def list_events(store: Store, params: Obj) -> Obj:
    from stripe_emulator.store import newest_first, paginate

    events = newest_first(store.events.values())
    if params.get("type"):
        pattern = re.compile("^" + re.escape(params["type"]).replace(r"\*", ".*") + "$")
        events = [e for e in events if pattern.match(e["type"])]
    return paginate(events, params, "/v1/events")


class EmulatorServer:
    """The HTTP server, its store, webhook dispatcher and (with ``state_file``) the file that keeps the
    store across restarts; ``start()`` serves from a daemon thread.

    A state file that cannot be read or written raises ``StateFileError`` before anything listens."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        quiet: bool = False,
        state_file: str | os.PathLike[str] | None = None,
        save_interval: float = DEFAULT_INTERVAL_SECONDS,
        **config: Any,
    ) -> None:
        self.store = Store(**config)
        self.state_file: StateFile | None = None
        self.loaded_state = False  # whether the state came from an existing file
        if state_file is not None:
            self.state_file = StateFile(state_file, self.store, interval=save_interval)
            self.loaded_state = self.state_file.load()
            self.state_file.save()  # fails now, not on the first write, if the file cannot be written
        self.quiet = quiet
        self.dispatcher = Dispatcher(
            lambda: (self.store.config["webhook_url"], self.store.config["webhook_secret"])
        )
        self.store.on_event = self.dispatcher.enqueue
        handler = type("BoundHandler", (Handler,), {"emulator": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[0], self.httpd.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self.store.base_url = self.url
        self._thread: threading.Thread | None = None
        if self.state_file is not None:
            self.state_file.start()

    def start(self) -> "EmulatorServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="stripe-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving (from another thread than ``serve_forever``'s), then ``close``."""
        self.httpd.shutdown()
        self.close()

    def close(self) -> None:
        """Refuse further calls (keep-alive connections outlive the listening socket), save the state a
        last time and release the socket and the webhook thread; raises StateFileError if the last
        save fails."""
        with self.store.lock:
            self.store.accepting = False
        try:
            if self.state_file is not None:
                self.state_file.close()
        finally:
            self.httpd.server_close()
            self.dispatcher.stop()

    # -- /v1 ---------------------------------------------------------------------------------------

    def api(self, method: str, path: str, query: str, body: str, headers: Any) -> Response:
        store = self.store
        request_id = store.request_id()
        common = {"Request-Id": request_id, "Stripe-Version": objects.API_VERSION}
        route, groups = self._match(method, path)
        with store.lock:
            store.requests_by_endpoint[route.name if route else f"{method} {path}"] += 1
        try:
            if route is None:
                raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")
            api_key = self._authenticate(headers.get("Authorization", ""))
            self._inject_faults()
            params = parse_form(query)
            params.update(parse_form(body))
            key = headers.get("Idempotency-Key") if method in ("POST", "DELETE") else None
            ctx = RequestContext(request_id, key)
            try:
                if key:
                    return self._idempotent(route, groups, params, ctx, (api_key, key), common)
                status, payload = self._execute(route, groups, params, ctx)
                return json_response(status, payload, **common)
            finally:
                if method != "GET":
                    self._changed(saved_before_answer=route.saved_before_answer)
        except StripeError as exc:
            return self._error(exc, request_id, common)

    def _changed(self, *, saved_before_answer: bool) -> None:
        """Note a call that may have changed the state; with a state file and ``saved_before_answer``,
        return once the change is on disk."""
        change = self.store.touch()
        if saved_before_answer and self.state_file is not None:
            self.state_file.flush(change)

    def _match(self, method: str, path: str) -> tuple[Route | None, tuple[str, ...]]:
        for route in ROUTES:
            if route.method == method and (found := route.pattern.match(path)):
                return route, found.groups()
        return None, ()

    @staticmethod
    def _authenticate(authorization: str) -> str:
        """Stripe answers 401 when the Bearer key is missing or malformed."""
        if not authorization.startswith("Bearer "):
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization "
                "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        key = authorization.removeprefix("Bearer ").strip()
        if not _KEY.match(key):
            raise StripeError(401, f"Invalid API Key provided: {key[:8]}****", code="api_key_invalid")
        return key

    def _inject_faults(self) -> None:
        """The switches: ``down`` (every call 500), ``fail_next`` one-shots, random 429/500 rates."""
        store = self.store
        with store.lock:
            if store.config["down"]:
                raise StripeError(500, "Stripe is down (emulator switch 'down').", type="api_error")
            status = store.fail_next.pop(0) if store.fail_next else None
            if status is None:
                if store.config["error_rate_429"] and store.rng.random() < store.config["error_rate_429"]:
                    status = 429
                elif store.config["error_rate_500"] and store.rng.random() < store.config["error_rate_500"]:
                    status = 500
        if status == 429:
            raise StripeError(
                429,
                "Too many requests hit the API too quickly (emulated rate limit).",
                code="rate_limit",
                should_retry=True,
            )
        if status is not None:
            raise StripeError(
                status,
                f"Emulated failure ({status}).",
                type="api_error" if status >= 500 else "invalid_request_error",
                replayable=False,
            )

    def _execute(
        self, route: Route, groups: tuple[str, ...], params: Obj, ctx: RequestContext
    ) -> tuple[int, Obj]:
        store = self.store
        latency = store.config["latency_ms"] / 1000
        if not route.slot:
            if latency:
                time.sleep(latency)
            with store.lock:
                _refuse_when_closing(store)
                return 200, route.handler(store, ctx, params, *groups)
        with store.lock:
            slot = meters.meter_event_slot(store, params)
        try:
            if latency:
                time.sleep(latency)
            with store.lock:
                _refuse_when_closing(store)
                return 200, route.handler(store, ctx, params, *groups)
        finally:
            with store.lock:
                meters.release_meter_event_slot(store, slot)

    def _idempotent(
        self,
        route: Route,
        groups: tuple[str, ...],
        params: Obj,
        ctx: RequestContext,
        scope: tuple[str, str],
        common: Obj,
    ) -> Response:
        """Stripe's idempotency: the same key and parameters within 24 h replay the saved answer
        (``Idempotent-Replayed: true``); other parameters are a 400 ``idempotency_error``; a request
        still running under the key is a 409. Rejections before execution are not saved."""
        store = self.store
        fingerprint = canonical(
            {"method": route.method, "path": route.name, "groups": groups, "params": params}
        )
        with store.lock:
            saved = store.idempotency.get(scope)
            if saved is not None and store.now() - saved.stored_at >= IDEMPOTENCY_SECONDS:
                saved = None
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{scope[1]}' if you meant to execute "
                        "a different request.",
                        type="idempotency_error",
                    )
                if not saved.done.is_set():
                    raise StripeError(
                        409,
                        "There is currently another in-progress request using this Stripe-Idempotency-Key. "
                        "Please try again later.",
                        type="idempotency_error",
                        code="idempotency_key_in_use",
                        replayable=False,
                    )
                store.counters["idempotent_replays"] += 1
                return Response(
                    saved.status,
                    saved.body,
                    **common,
                    **{"Idempotent-Replayed": "true", "Idempotency-Key": scope[1]},
                )
            record = IdempotentResult(fingerprint, 0, b"", store.now())
            store.idempotency[scope] = record
        try:
            status, payload = self._execute(route, groups, params, ctx)
            body = json.dumps(payload).encode()
        except StripeError as exc:
            if not exc.replayable:
                with store.lock:
                    store.idempotency.pop(scope, None)
                raise
            status, body = exc.status, json.dumps(exc.body(ctx.request_id or "")).encode()
        except BaseException:
            with store.lock:
                store.idempotency.pop(scope, None)
            raise
        with store.lock:
            record.status, record.body = status, body
            record.done.set()
        return Response(status, body, **common, **{"Idempotency-Key": scope[1]})

    @staticmethod
    def _error(exc: StripeError, request_id: str, common: Obj) -> Response:
        headers = dict(common)
        if exc.should_retry is not None:
            headers["Stripe-Should-Retry"] = "true" if exc.should_retry else "false"
        return json_response(exc.status, exc.body(request_id), **headers)

    # -- /_emulator --------------------------------------------------------------------------------

    def control(self, method: str, path: str, query: str, body: str) -> Response:
        store = self.store
        try:
            data = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError:
            return json_response(
                400, {"error": {"type": "invalid_request_error", "message": "Body must be JSON."}}
            )
        try:
            with store.lock:
                _refuse_when_closing(store)
                response = control.handle(self, method, path, query, data)
        except StripeError as exc:
            return json_response(exc.status, exc.body(""))
        if method == "POST":
            self._changed(saved_before_answer=True)
        return response


def _refuse_when_closing(store: Store) -> None:
    """Call with ``store.lock`` held, just before a change."""
    if not store.accepting:
        raise StripeError(503, "The emulator is shutting down.", type="api_error", replayable=False)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, every
    # keep-alive response waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    emulator: EmulatorServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        try:
            if parts.path.startswith("/v1/"):
                response = self.emulator.api(method, parts.path, parts.query, body, self.headers)
            elif parts.path.startswith("/_emulator/"):
                response = self.emulator.control(method, parts.path, parts.query, body)
            elif parts.path.startswith("/invoices/") and method == "GET":
                response = control.invoice_page(self.emulator, parts.path)
            else:
                response = json_response(
                    404, {"error": {"type": "invalid_request_error", "message": "Not found"}}
                )
        except Exception as exc:  # noqa: BLE001 - any bug answers Stripe's 500 api_error, never a dropped socket
            traceback.print_exc()
            response = json_response(
                500, {"error": {"type": "api_error", "message": f"Emulator error: {exc}"}}
            )
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)
        if not self.emulator.quiet:
            elapsed = (time.monotonic() - started) * 1000
            request_id = response.headers.get("Request-Id", "-")
            sys.stderr.write(f"{method} {parts.path} {response.status} {elapsed:.1f}ms {request_id}\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log; ``_dispatch`` logs one line per request."""


def start_server(
    host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True, **config: Any
) -> EmulatorServer:
    """Start an emulator on ``host:port`` (0 = a free port) in a daemon thread."""
    return EmulatorServer(host, port, quiet=quiet, **config).start()
