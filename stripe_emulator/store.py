"""The emulator's in-memory state: clock, ids, objects, generated events, switches. One lock guards it all.

Resource rules live in ``customers``, ``prices`` (products, prices), ``meters`` (meters, meter events,
adjustments, summaries) and ``subscriptions`` (subscriptions, items, invoices, the clock's period closes);
each is a set of functions taking the store, the request context and the decoded parameters.
"""

import random
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import StripeError, invalid, missing_param, no_such

Obj = dict[str, Any]

DEFAULT_CONFIG: Obj = {
    "latency_ms": 0,
    "summary_delay_seconds": 0.0,
    "error_rate_429": 0.0,
    "error_rate_500": 0.0,
    "drop_rate": 0.0,
    "down": False,
    "seed": 0,
    "webhook_url": "",
    "webhook_secret": "",
    "fail_payments": False,
}
WEBHOOK_KEYS = ("webhook_url", "webhook_secret")
IDEMPOTENCY_SECONDS = 24 * 3600  # how long Stripe keeps an idempotency key's answer


@dataclass
class RequestContext:
    """Who asked: the request id (``req_...``) and idempotency key that events record in ``request``."""

    request_id: str | None = None
    idempotency_key: str | None = None

    def as_event_request(self) -> Obj:
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}


@dataclass
class MeterEventRecord:
    """One meter event as Stripe received it: ``received_at`` is the emulator time of arrival."""

    obj: Obj
    meter_id: str
    customer_id: str
    value: int
    timestamp: int
    received_at: float
    counted: bool
    canceled_at: float | None = None


@dataclass
class IdempotentResult:
    fingerprint: str
    status: int
    body: bytes
    stored_at: float
    done: threading.Event = field(default_factory=threading.Event)


class Store:
    """All emulator state. Callers hold ``store.lock`` around every read-modify-write."""

    def __init__(self, **config: Any) -> None:
        self.lock = threading.RLock()
        self.config: Obj = dict(DEFAULT_CONFIG)
        self.base_url = "http://127.0.0.1"
        self.on_event: Callable[[Obj], None] = lambda event: None
        self.offset = 0.0
        # Bumped by every call that may have changed the state; the state file saves when it moved.
        self.changes = 0
        # False once a clean shutdown has begun: later calls are refused rather than answered and
        # then lost (the last save has been taken).
        self.accepting = True
        self.clear()
        self.configure(config)

    def clear(self) -> None:
        """Forget every object, event and counter; keep the switches and the clock."""
        with self.lock:
            self.customers: dict[str, Obj] = {}
            self.products: dict[str, Obj] = {}
            self.prices: dict[str, Obj] = {}
            self.meters: dict[str, Obj] = {}
            self.subscriptions: dict[str, Obj] = {}
            self.items: dict[str, Obj] = {}
            self.invoices: dict[str, Obj] = {}
            self.periods: dict[str, tuple[int, int]] = {}  # subscription id -> current [start, end)
            self.events: dict[str, Obj] = {}
            self.meter_events: list[MeterEventRecord] = []
            # Events by (meter, customer), built from `meter_events` as it grows
            # (see meters.events_of); `meter_events` stays the record of truth.
            self.events_by_pair: dict[tuple[str, str], list[MeterEventRecord]] = {}
            self.events_indexed = 0
            self.events_by_pair_last: MeterEventRecord | None = None
            self.by_identifier: dict[str, MeterEventRecord] = {}
            self.adjustments: list[Obj] = []
            self.payment_failures: dict[str, bool] = {}
            self.inflight: set[tuple[str, str]] = set()
            self.idempotency: dict[tuple[str, str], IdempotentResult] = {}
            self.fail_next: list[int] = []
            self.drop_next_meter_events = 0
            self.counters: Counter[str] = Counter()
            self.requests_by_endpoint: Counter[str] = Counter()

    def reset(self) -> None:
        """``POST /_emulator/reset``: forget everything, including the clock offset and switches,
        but keep the webhook URL and secret."""
        with self.lock:
            webhook = {key: self.config[key] for key in WEBHOOK_KEYS}
            self.config = dict(DEFAULT_CONFIG, **webhook)
            self.rng = random.Random(0)  # noqa: S311 - reproducible ids and fault dice, not secrets
            self.offset = 0.0
            self.clear()

    def configure(self, changes: Obj) -> Obj:
        """Apply switches from ``/_emulator/config``; unknown keys are a 400."""
        with self.lock:
            for key, value in changes.items():
                if key == "fail_next":
                    self.fail_next.extend(int(status) for status in value)
                elif key == "drop_next_meter_events":
                    self.drop_next_meter_events += int(value)
                elif key in DEFAULT_CONFIG:
                    kind = type(DEFAULT_CONFIG[key])
                    self.config[key] = kind(value) if kind is not bool else bool(value)
                else:
                    raise invalid(f"Unknown emulator switch: {key}", param=key)
            if "seed" in changes or not hasattr(self, "rng"):
                self.rng = random.Random(self.config["seed"])  # noqa: S311 - as above
            return self.public_config()

    def touch(self) -> int:
        """Record that the state may have changed; returns the change's number."""
        with self.lock:
            self.changes += 1
            return self.changes

    def public_config(self) -> Obj:
        return dict(
            self.config, fail_next=list(self.fail_next), drop_next_meter_events=self.drop_next_meter_events
        )

    # -- clock and ids --------------------------------------------------------------------------

    def now(self) -> float:
        """Emulator time: real time plus the offset moved by ``/_emulator/clock``."""
        return time.time() + self.offset

    def now_int(self) -> int:
        return int(self.now())

    def new_id(self, prefix: str, length: int = 24) -> str:
        alphabet = string.ascii_letters + string.digits
        # Ids are never seeded: a restarted emulator must not reuse event ids a webhook consumer has
        # already stored (``seed`` only makes the fault and drop dice reproducible).
        return prefix + "".join(secrets.choice(alphabet) for _ in range(length))

    def request_id(self) -> str:
        with self.lock:
            return self.new_id("req_", 14)

    # -- events -----------------------------------------------------------------------------------

    def emit(self, event_type: str, data_object: Obj, ctx: RequestContext | None, **extra_data: Any) -> Obj:
        """Record an event (``evt_...``) and hand it to the webhook dispatcher."""
        request = ctx.as_event_request() if ctx else {"id": None, "idempotency_key": None}
        event = objects.event(
            self.new_id("evt_"), self.now_int(), event_type, data_object, request, **extra_data
        )
        if self.config["webhook_url"]:
            event["pending_webhooks"] = 1
        self.events[event["id"]] = event
        self.counters[f"events.{event_type}"] += 1
        self.on_event(event)
        return event

    # -- lookups and lists ------------------------------------------------------------------------

    def get(self, table: dict[str, Obj], kind: str, object_id: str, *, param: str = "id") -> Obj:
        """The object or Stripe's ``resource_missing`` (404 in the path, 400 as a parameter)."""
        if not isinstance(object_id, str) or object_id not in table:
            raise no_such(kind, str(object_id), param=param)
        return table[object_id]


def paginate(objs: Iterable[Obj], params: Obj, url: str) -> Obj:
    """Stripe list semantics: newest first (callers pass that order), ``limit`` 1..100 (default 10),
    ``starting_after``/``ending_before`` cursors by object id."""
    items = list(objs)
    limit = parse_int(params.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise invalid("Invalid limit: must be between 1 and 100", param="limit")
    ids = [item.get("id") for item in items]
    if params.get("starting_after"):
        cursor = params["starting_after"]
        if cursor not in ids:
            raise StripeError(
                400, f"No such object: '{cursor}'", param="starting_after", code="resource_missing"
            )
        items = items[ids.index(cursor) + 1 :]
    elif params.get("ending_before"):
        cursor = params["ending_before"]
        if cursor not in ids:
            raise StripeError(
                400, f"No such object: '{cursor}'", param="ending_before", code="resource_missing"
            )
        before = items[: ids.index(cursor)]
        page = before[-limit:]
        return objects.list_object(page, has_more=len(before) > limit, url=url)
    return objects.list_object(items[:limit], has_more=len(items) > limit, url=url)


def newest_first(objs: Iterable[Obj]) -> list[Obj]:
    return list(reversed(list(objs)))


def parse_int(value: Any, param: str) -> int:
    """Integers arrive as strings; Stripe answers ``parameter_invalid_integer`` otherwise."""
    try:
        return int(str(value))
    except ValueError:
        raise invalid(f"Invalid integer: {value}", param=param, code="parameter_invalid_integer") from None


def parse_bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise invalid(f"Invalid boolean: {value}", param=param, code="parameter_invalid_boolean")


def require(params: Obj, name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise missing_param(name)
    return value


def update_metadata(obj: Obj, metadata: Any) -> None:
    """Stripe's metadata update: keys merge, an empty value unsets a key, ``metadata=""`` unsets all."""
    if metadata is None:
        return
    if metadata == "":
        obj["metadata"] = {}
        return
    if not isinstance(metadata, dict):
        raise invalid("Invalid hash", param="metadata", code="parameter_invalid_hash")
    for key, value in metadata.items():
        if value == "":
            obj["metadata"].pop(key, None)
        else:
            obj["metadata"][key] = value
