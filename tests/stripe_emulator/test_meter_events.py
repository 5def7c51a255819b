"""Meters and meter events through the official SDK: a meter's unique event name,
counting, identifier dedupe, timestamp and value rules, one in-flight call per
customer and meter, the drop switch and unknown customers."""

import threading

import pytest
import stripe

from tests.stripe_emulator.helpers import Metered, day_start, make_client, send, usage


def test_events_are_counted_in_summaries(client, emulator, metered: Metered):
    send(client, metered, "12", "evt-a")
    send(client, metered, "30", "evt-b")
    start = day_start(emulator.now())
    assert usage(client, metered, start, start + 86400) == 42
    assert emulator.state()["meter_events"]["counted"] == 2


def test_identifier_is_deduplicated_for_24_hours_then_counts_again(client, emulator, metered: Metered):
    start = day_start(emulator.now())
    first = send(client, metered, "5", "window-1")
    repeat = send(client, metered, "5", "window-1")
    assert repeat.identifier == "window-1" and repeat.created == first.created
    assert usage(client, metered, start, start + 3 * 86400) == 5
    assert emulator.state()["meter_events"]["deduplicated"] == 1

    emulator.advance(25 * 3600)
    send(client, metered, "5", "window-1")
    assert usage(client, metered, start, start + 3 * 86400) == 10


@pytest.mark.parametrize("offset", [-36 * 86400, 6 * 60])
def test_timestamp_outside_the_window_is_refused(client, emulator, metered: Metered, offset):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        send(client, metered, "1", f"ts{offset}", timestamp=emulator.now() + offset)
    assert caught.value.param == "timestamp"
    assert caught.value.http_status == 400


def test_timestamp_inside_the_window_is_accepted(client, emulator, metered: Metered):
    now = emulator.now()
    send(client, metered, "1", "old", timestamp=now - 34 * 86400)
    send(client, metered, "1", "soon", timestamp=now + 4 * 60)
    assert emulator.state()["meter_events"]["counted"] == 2


@pytest.mark.parametrize("value", ["2.5", "abc", "-3"])
def test_value_must_be_a_whole_number(client, metered: Metered, value):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        send(client, metered, value, f"bad-{value}")
    assert caught.value.param == "payload[value]"


def test_unknown_event_name_is_refused(client, metered: Metered):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meter_events.create(
            params={
                "event_name": "nope",
                "payload": {"stripe_customer_id": metered.customer.id, "value": "1"},
            }
        )
    assert caught.value.param == "event_name"


def test_unknown_customer_is_accepted_not_counted_and_reported(client, emulator, metered: Metered):
    event = client.v1.billing.meter_events.create(
        params={
            "event_name": metered.meter.event_name,
            "payload": {"stripe_customer_id": "cus_missing", "value": "3"},
            "identifier": "orphan",
        }
    )
    assert event.identifier == "orphan"
    state = emulator.state()["meter_events"]
    assert state["counted"] == 0 and state["customer_not_found"] == 1
    reports = client.v1.events.list(params={"type": "billing.meter.error_report_triggered"}).data
    assert len(reports) == 1
    assert reports[0].data.object.id == metered.meter.id
    assert reports[0].data.reason.error_types[0].code == "meter_event_customer_not_found"


def test_second_concurrent_call_for_the_same_customer_and_meter_gets_429(client, emulator, metered: Metered):
    emulator.config(latency_ms=400)
    outcomes: list[object] = []

    def call(identifier: str) -> None:
        try:
            outcomes.append(send(make_client(emulator, retries=0), metered, "1", identifier))
        except stripe.RateLimitError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=call, args=(f"c{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [o for o in outcomes if isinstance(o, stripe.RateLimitError)]
    assert len(outcomes) == 2 and len(errors) == 1
    assert errors[0].http_status == 429
    assert errors[0].json_body["error"]["code"] == "lock_timeout"
    assert emulator.state()["concurrent_rejections"] == 1
    emulator.config(latency_ms=0)
    start = day_start(emulator.now())
    assert usage(client, metered, start, start + 86400) == 1


def test_concurrent_calls_for_different_customers_both_succeed(client, emulator, metered: Metered):
    other = client.v1.customers.create(params={"name": "Globex"})
    emulator.config(latency_ms=300)
    failures: list[Exception] = []

    def call(customer_id: str) -> None:
        try:
            make_client(emulator).v1.billing.meter_events.create(
                params={
                    "event_name": metered.meter.event_name,
                    "payload": {"stripe_customer_id": customer_id, "value": "1"},
                }
            )
        except stripe.StripeError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=call, args=(c,)) for c in (metered.customer.id, other.id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_drop_switch_accepts_but_never_counts(client, emulator, metered: Metered):
    emulator.config(drop_next_meter_events=1)
    dropped = send(client, metered, "7", "lost")
    assert dropped.identifier == "lost"
    send(client, metered, "3", "kept")
    start = day_start(emulator.now())
    assert usage(client, metered, start, start + 86400) == 3
    assert emulator.state()["meter_events"]["dropped"] == 1

    emulator.config(drop_rate=1.0)
    send(client, metered, "9", "also-lost")
    assert usage(client, metered, start, start + 86400) == 3


def test_meter_event_name_is_unique_among_active_meters(client):
    params = {"display_name": "Pages", "event_name": "pages", "default_aggregation": {"formula": "sum"}}
    meter = client.v1.billing.meters.create(params=params)
    assert meter.id.startswith("mtr_") and meter.customer_mapping.event_payload_key == "stripe_customer_id"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meters.create(params=params)
    assert caught.value.param == "event_name"
    assert [m.id for m in client.v1.billing.meters.list(params={"status": "active"}).data] == [meter.id]
