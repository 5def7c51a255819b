"""Event summaries (alignment rules, grouping windows, pagination, eventual consistency) and cancel
adjustments (only within 24 h of Stripe receiving the event)."""

import pytest
import stripe

from tests.stripe_emulator.helpers import Metered, day_start, send, usage


def _summaries(client, setup: Metered, **params):
    return client.v1.billing.meters.event_summaries.list(
        setup.meter.id, params={"customer": setup.customer.id, **params}
    )


@pytest.mark.parametrize(
    ("start_shift", "end_shift", "window", "param"),
    [
        (30, 0, None, "start_time"),
        (0, 3630 + 5, None, "end_time"),
        (60, 3600, "hour", "start_time"),
        (3600, 86400, "day", "start_time"),
        (0, 86400 + 3600, "day", "end_time"),
    ],
)
def test_misaligned_times_are_refused(client, emulator, metered, start_shift, end_shift, window, param):
    start = day_start(emulator.now()) - 86400
    params = {"start_time": start + start_shift, "end_time": start + (end_shift or 3600)}
    if window:
        params["value_grouping_window"] = window
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _summaries(client, metered, **params)
    assert caught.value.param == param


def test_customer_is_required(client, emulator, metered):
    start = day_start(emulator.now())
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meters.event_summaries.list(
            metered.meter.id, params={"start_time": start, "end_time": start + 60}
        )
    assert caught.value.param == "customer"


def test_day_grouping_paginates_in_ascending_order_with_zero_days(client, emulator, metered):
    today = day_start(emulator.now())
    start = today - 4 * 86400
    send(client, metered, "4", "d1", timestamp=start + 86400 + 10)
    send(client, metered, "6", "d3", timestamp=start + 3 * 86400 + 20)
    first = _summaries(
        client, metered, start_time=start, end_time=today + 86400, value_grouping_window="day", limit=2
    )
    assert first.has_more is True
    assert [s.start_time for s in first.data] == [start, start + 86400]
    values = [s.aggregated_value for s in first.data]
    cursor = first.data[-1].id
    while True:
        page = _summaries(
            client,
            metered,
            start_time=start,
            end_time=today + 86400,
            value_grouping_window="day",
            limit=2,
            starting_after=cursor,
        )
        values += [s.aggregated_value for s in page.data]
        if not page.has_more:
            break
        cursor = page.data[-1].id
    assert values == [0, 4, 0, 6, 0]
    assert first.data[0].object == "billing.meter_event_summary"
    assert first.data[0].meter == metered.meter.id


def test_hour_grouping_splits_the_day(client, emulator, metered):
    hour = emulator.now() // 3600 * 3600
    send(client, metered, "2", "h0", timestamp=hour - 3600 + 5)
    send(client, metered, "3", "h1", timestamp=hour + 1)
    page = _summaries(
        client, metered, start_time=hour - 3600, end_time=hour + 3600, value_grouping_window="hour"
    )
    assert [s.aggregated_value for s in page.data] == [2, 3]


def test_summaries_are_eventually_consistent(client, emulator, metered):
    emulator.config(summary_delay_seconds=120)
    send(client, metered, "8", "late")
    start = day_start(emulator.now())
    assert usage(client, metered, start, start + 2 * 86400) == 0
    emulator.advance(121)
    assert usage(client, metered, start, start + 2 * 86400) == 8


def test_cancel_within_24_hours_removes_the_event(client, emulator, metered):
    emulator.config(summary_delay_seconds=60)
    send(client, metered, "5", "keep")
    send(client, metered, "9", "mistake")
    adjustment = client.v1.billing.meter_event_adjustments.create(
        params={"event_name": metered.meter.event_name, "type": "cancel", "cancel": {"identifier": "mistake"}}
    )
    assert adjustment.status == "pending"
    assert adjustment.cancel.identifier == "mistake"
    start = day_start(emulator.now())
    emulator.advance(61)
    assert usage(client, metered, start, start + 2 * 86400) == 5
    assert emulator.state()["adjustments"] == 1


def test_cancel_after_24_hours_is_refused(client, emulator, metered):
    send(client, metered, "9", "too-late")
    emulator.advance(24 * 3600 + 1)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meter_event_adjustments.create(
            params={
                "event_name": metered.meter.event_name,
                "type": "cancel",
                "cancel": {"identifier": "too-late"},
            }
        )
    assert "24 hours" in str(caught.value.user_message)
    start = day_start(emulator.now()) - 2 * 86400
    assert usage(client, metered, start, start + 4 * 86400) == 9


def test_cancel_of_an_unknown_identifier_is_refused(client, metered):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meter_event_adjustments.create(
            params={
                "event_name": metered.meter.event_name,
                "type": "cancel",
                "cancel": {"identifier": "never-sent"},
            }
        )
    assert caught.value.param == "cancel[identifier]"
