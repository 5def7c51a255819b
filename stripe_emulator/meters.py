"""Billing meters, meter events, cancel adjustments and event summaries (``/v1/billing/...``)."""

import hashlib
import re
from typing import Any

from stripe_emulator import objects
from stripe_emulator.errors import StripeError, invalid, missing_param
from stripe_emulator.store import (
    MeterEventRecord,
    RequestContext,
    Store,
    newest_first,
    paginate,
    parse_int,
    require,
)

Obj = dict[str, Any]

DEDUPE_SECONDS = 24 * 3600  # identifier uniqueness window, and the cancel window
PAST_LIMIT_SECONDS = 35 * 24 * 3600
FUTURE_LIMIT_SECONDS = 5 * 60
_WHOLE = re.compile(r"^\d+$")
_FORMULAS = ("sum", "count", "last")
_WINDOWS = {"hour": 3600, "day": 86400}


def _active_meter_named(store: Store, event_name: str) -> Obj | None:
    return next(
        (m for m in store.meters.values() if m["event_name"] == event_name and m["status"] == "active"),
        None,
    )


def create_meter(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/billing/meters. ``event_name`` must be unique among active meters."""
    require(params, "display_name")
    event_name = require(params, "event_name")
    aggregation = params.get("default_aggregation")
    if not isinstance(aggregation, dict) or not aggregation.get("formula"):
        raise missing_param("default_aggregation[formula]")
    if aggregation["formula"] not in _FORMULAS:
        raise invalid(
            f"Invalid default_aggregation[formula]: must be one of {', '.join(_FORMULAS)}",
            param="default_aggregation[formula]",
        )
    mapping = params.get("customer_mapping") or {}
    if mapping and mapping.get("type", "by_id") != "by_id":
        raise invalid("customer_mapping[type] must be by_id", param="customer_mapping[type]")
    if _active_meter_named(store, event_name):
        raise invalid(
            f"An active meter with event_name '{event_name}' already exists.",
            param="event_name",
            code="resource_already_exists",
        )
    obj = objects.meter(store.new_id("mtr_test_"), store.now_int(), params)
    store.meters[obj["id"]] = obj
    return obj


def retrieve_meter(store: Store, ctx: RequestContext, params: Obj, meter_id: str) -> Obj:
    return store.get(store.meters, "billing meter", meter_id)


def update_meter(store: Store, ctx: RequestContext, params: Obj, meter_id: str) -> Obj:
    """POST /v1/billing/meters/{id}: only ``display_name`` can change."""
    obj = store.get(store.meters, "billing meter", meter_id)
    if params.get("display_name"):
        obj["display_name"] = params["display_name"]
        obj["updated"] = store.now_int()
    return obj


def deactivate_meter(store: Store, ctx: RequestContext, params: Obj, meter_id: str) -> Obj:
    """POST /v1/billing/meters/{id}/deactivate: events for it are then refused."""
    obj = store.get(store.meters, "billing meter", meter_id)
    obj["status"] = "inactive"
    obj["status_transitions"] = {"deactivated_at": store.now_int()}
    obj["updated"] = store.now_int()
    return obj


def reactivate_meter(store: Store, ctx: RequestContext, params: Obj, meter_id: str) -> Obj:
    obj = store.get(store.meters, "billing meter", meter_id)
    other = _active_meter_named(store, obj["event_name"])
    if other is not None and other is not obj:
        raise invalid("Another active meter uses this event_name.", param="event_name")
    obj["status"] = "active"
    obj["status_transitions"] = {"deactivated_at": None}
    obj["updated"] = store.now_int()
    return obj


def list_meters(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    meters = newest_first(store.meters.values())
    if params.get("status"):
        meters = [m for m in meters if m["status"] == params["status"]]
    return paginate(meters, params, "/v1/billing/meters")


# -- meter events ---------------------------------------------------------------------------------


def _event_target(store: Store, params: Obj) -> tuple[Obj, str]:
    """The active meter named by ``event_name`` and the customer id from the meter's payload key."""
    event_name = require(params, "event_name")
    meter = _active_meter_named(store, event_name)
    if meter is None:
        raise invalid(
            f"No active meter was found matching event_name '{event_name}'.",
            param="event_name",
            code="resource_missing",
        )
    payload = params.get("payload")
    if not isinstance(payload, dict):
        raise missing_param("payload")
    key = meter["customer_mapping"]["event_payload_key"]
    customer_id = payload.get(key)
    if not customer_id:
        raise missing_param(f"payload[{key}]")
    return meter, str(customer_id)


def meter_event_slot(store: Store, params: Obj) -> tuple[str, str]:
    """Take the (customer, meter) slot: Stripe allows one concurrent meter-event call per customer per
    meter and answers a second one in flight with 429 (``lock_timeout``, ``Stripe-Should-Retry: true``).
    Call with ``store.lock`` held; release with ``release_meter_event_slot``."""
    meter, customer_id = _event_target(store, params)
    key = (customer_id, meter["id"])
    if key in store.inflight:
        store.counters["meter_events.concurrent_rejections"] += 1
        raise StripeError(
            429,
            "Another meter event for this customer and meter is being processed; retry shortly.",
            code="lock_timeout",
            should_retry=True,
        )
    store.inflight.add(key)
    return key


def release_meter_event_slot(store: Store, key: tuple[str, str]) -> None:
    store.inflight.discard(key)


def create_meter_event(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/billing/meter_events.

    Rules (Stripe's): the value is a whole number (param ``payload[value]``); ``timestamp`` is at most
    35 days in the past and 5 minutes in the future (param ``timestamp``); an ``identifier`` seen less
    than 24 h ago is accepted but not counted again (the first event is returned). An unknown customer
    is accepted but not counted, and ``billing.meter.error_report_triggered`` is emitted.
    """
    meter, customer_id = _event_target(store, params)
    payload = dict(params["payload"])
    value_key = meter["value_settings"]["event_payload_key"]
    raw_value = payload.get(value_key)
    if raw_value is None and meter["default_aggregation"]["formula"] == "count":
        raw_value = "1"
    if raw_value is None:
        raise missing_param(f"payload[{value_key}]")
    if not _WHOLE.match(str(raw_value)):
        raise invalid(
            f"Invalid value '{raw_value}': meter event values must be whole numbers.",
            param=f"payload[{value_key}]",
            code="parameter_invalid_integer",
        )
    now = store.now()
    timestamp = parse_int(params["timestamp"], "timestamp") if params.get("timestamp") else int(now)
    if timestamp < now - PAST_LIMIT_SECONDS:
        raise invalid(
            "Timestamp must be within the past 35 days.", param="timestamp", code="timestamp_too_far_in_past"
        )
    if timestamp > now + FUTURE_LIMIT_SECONDS:
        raise invalid(
            "Timestamp must be no more than 5 minutes in the future.",
            param="timestamp",
            code="timestamp_in_future",
        )
    identifier = params.get("identifier") or store.new_id("", 32)
    if len(identifier) > 100:
        raise invalid("identifier must be at most 100 characters", param="identifier")

    previous = store.by_identifier.get(identifier)
    if previous is not None and now - previous.received_at < DEDUPE_SECONDS:
        store.counters["meter_events.deduplicated"] += 1
        return previous.obj

    obj = objects.meter_event(int(now), meter["event_name"], identifier, payload, timestamp)
    if store.drop_next_meter_events > 0 or (
        store.config["drop_rate"] and store.rng.random() < store.config["drop_rate"]
    ):
        store.drop_next_meter_events = max(0, store.drop_next_meter_events - 1)
        store.counters["meter_events.dropped"] += 1
        return obj  # "accepted" but lost: not counted, identifier not remembered

    known = customer_id in store.customers
    record = MeterEventRecord(obj, meter["id"], customer_id, int(raw_value), timestamp, now, counted=known)
    store.meter_events.append(record)
    store.by_identifier[identifier] = record
    if known:
        store.counters["meter_events.counted"] += 1
    else:
        store.counters["meter_events.customer_not_found"] += 1
        _emit_error_report(store, ctx, meter, identifier, customer_id)
    return obj


def _emit_error_report(
    store: Store, ctx: RequestContext, meter: Obj, identifier: str, customer_id: str
) -> None:
    """Modelled loosely on Stripe's meter error report (one report per failing event here)."""
    now = store.now_int()
    message = f"No customer found for '{customer_id}'."
    store.emit(
        "billing.meter.error_report_triggered",
        meter,
        ctx,
        developer_message_summary="There is 1 invalid event",
        reason={
            "error_count": 1,
            "error_types": [
                {
                    "code": "meter_event_customer_not_found",
                    "error_count": 1,
                    "sample_errors": [{"error_message": message, "request": {"identifier": identifier}}],
                }
            ],
        },
        validation_start=now,
        validation_end=now,
    )


def create_adjustment(store: Store, ctx: RequestContext, params: Obj) -> Obj:
    """POST /v1/billing/meter_event_adjustments (``type=cancel``, ``cancel[identifier]``).

    Stripe only cancels an event it received less than 24 h ago; the cancellation, like events,
    shows in summaries after the consistency delay (status ``pending``).
    """
    event_name = require(params, "event_name")
    meter = _active_meter_named(store, event_name)
    if meter is None:
        raise invalid(
            f"No active meter was found matching event_name '{event_name}'.",
            param="event_name",
            code="resource_missing",
        )
    if params.get("type", "cancel") != "cancel":
        raise invalid("Only type=cancel is supported.", param="type")
    cancel = params.get("cancel")
    identifier = cancel.get("identifier") if isinstance(cancel, dict) else None
    if not identifier:
        raise missing_param("cancel[identifier]")
    record = store.by_identifier.get(identifier)
    if record is None or record.meter_id != meter["id"]:
        raise invalid(
            f"No meter event with identifier '{identifier}' was found for this meter.",
            param="cancel[identifier]",
            code="resource_missing",
        )
    now = store.now()
    if now - record.received_at >= DEDUPE_SECONDS:
        raise invalid(
            f"The meter event '{identifier}' can no longer be cancelled: events can only be cancelled "
            "within 24 hours of Stripe receiving them.",
            param="cancel[identifier]",
            code="meter_event_adjustment_window_expired",
        )
    if record.canceled_at is not None:
        raise invalid(
            f"The meter event '{identifier}' has already been cancelled.",
            param="cancel[identifier]",
            code="meter_event_already_cancelled",
        )
    record.canceled_at = now
    obj = objects.meter_event_adjustment(event_name, identifier)
    store.adjustments.append(obj)
    store.counters["meter_event_adjustments"] += 1
    return obj


# -- summaries ------------------------------------------------------------------------------------


def _time_param(params: Obj, name: str) -> int:
    value = parse_int(require(params, name), name)
    if value % 60:
        raise invalid(f"{name} must be aligned to a minute boundary (seconds % 60 == 0).", param=name)
    return value


def visible_records(store: Store, meter: Obj, customer_id: str) -> list[MeterEventRecord]:
    """The customer's events on this meter as Stripe's summaries see them now: counted, not-cancelled
    events whose arrival (and whose cancellation's arrival) is older than the consistency delay."""
    horizon = store.now() - float(store.config["summary_delay_seconds"])
    return [
        r
        for r in events_of(store, meter["id"], customer_id)
        if r.counted
        and r.received_at <= horizon
        and not (r.canceled_at is not None and r.canceled_at <= horizon)
    ]


def events_of(store: Store, meter_id: str, customer_id: str) -> list[MeterEventRecord]:
    """One customer's events on one meter, from an index kept up with
    `store.meter_events` (appended to as events arrive): a summaries call reads
    its own events, not every stored one. If the list was cut back (a reset, a
    benchmark undoing its changes) the index is rebuilt."""
    events = store.meter_events
    done = store.events_indexed
    if done > len(events) or (done and store.events_by_pair_last is not events[done - 1]):
        store.events_by_pair, done = {}, 0
    for record in events[done:]:
        store.events_by_pair.setdefault((record.meter_id, record.customer_id), []).append(record)
    store.events_indexed = len(events)
    store.events_by_pair_last = events[-1] if events else None
    return store.events_by_pair.get((meter_id, customer_id), [])


def aggregate(meter: Obj, records: list[MeterEventRecord], start: int, end: int) -> int:
    """Apply the meter's formula (sum, count, last) to the events timestamped in [start, end)."""
    inside = [r for r in records if start <= r.timestamp < end]
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return len(inside)
    if formula == "last":
        return max(inside, key=lambda r: (r.timestamp, r.received_at)).value if inside else 0
    return sum(r.value for r in inside)


def _summary_id(meter_id: str, customer_id: str, start: int, end: int) -> str:
    digest = hashlib.sha256(f"{meter_id}|{customer_id}|{start}|{end}".encode()).hexdigest()[:24]
    return f"mtrsum_{digest}"


def list_event_summaries(store: Store, ctx: RequestContext, params: Obj, meter_id: str) -> Obj:
    """GET /v1/billing/meters/{id}/event_summaries.

    Rules: ``customer``, ``start_time`` and ``end_time`` are required; times are minute-aligned;
    ``value_grouping_window=hour`` needs hour-aligned and ``day`` UTC-midnight-aligned times. One
    summary for the range, or one per window (ascending, zero-valued windows included).
    """
    meter = store.get(store.meters, "billing meter", meter_id)
    customer_id = require(params, "customer")
    start, end = _time_param(params, "start_time"), _time_param(params, "end_time")
    if start >= end:
        raise invalid("start_time must be before end_time.", param="start_time")
    window = params.get("value_grouping_window")
    if window:
        if window not in _WINDOWS:
            raise invalid("value_grouping_window must be one of hour, day", param="value_grouping_window")
        size = _WINDOWS[window]
        for name, value in (("start_time", start), ("end_time", end)):
            if value % size:
                alignment = "an hour" if window == "hour" else "a day (00:00 UTC)"
                raise invalid(
                    f"{name} must be aligned to {alignment} for value_grouping_window={window}.", param=name
                )
        bounds = [(t, min(t + size, end)) for t in range(start, end, size)]
    else:
        bounds = [(start, end)]
    summaries = [
        objects.meter_event_summary(_summary_id(meter["id"], customer_id, s, e), meter["id"], s, e, 0)
        for s, e in bounds
    ]
    page = paginate(summaries, params, f"/v1/billing/meters/{meter['id']}/event_summaries")
    records = visible_records(store, meter, customer_id)
    for summary in page["data"]:
        summary["aggregated_value"] = aggregate(meter, records, summary["start_time"], summary["end_time"])
    return page
