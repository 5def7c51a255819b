"""The state file (``--state-file``): what the emulated Stripe account holds survives a restart, a
write the portal was answered is on disk, a damaged file stops the start, and saves are atomic."""

import json
import os
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorServer
from stripe_emulator.state_file import StateFile, StateFileError
from stripe_emulator.store import Store
from stripe_emulator.testing import running_emulator
from tests.stripe_emulator.helpers import Metered, create_metered, day_start, make_client, send, usage
from tests.workers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def _summaries(client: stripe.StripeClient, setup: Metered, start: int, end: int) -> list[int]:
    page = client.v1.billing.meters.event_summaries.list(
        setup.meter.id,
        params={
            "customer": setup.customer.id,
            "start_time": start,
            "end_time": end,
            "value_grouping_window": "day",
        },
    )
    return [summary.aggregated_value for summary in page.data]


def _without_now(state: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in state.items() if key != "now"}


def test_state_survives_a_restart(tmp_path):
    state_file = tmp_path / "stripe-emulator.json"
    with running_emulator(subprocess_mode=True, state_file=state_file) as emulator:
        client = make_client(emulator)
        setup = create_metered(client)
        # Into the next period: an invoice, and the emulator clock a month ahead of real time.
        closed = emulator.advance(32 * 86400)["invoices"]
        period_start = client.v1.subscription_items.retrieve(
            setup.subscription["items"].data[0].id
        ).current_period_start
        send(client, setup, "4", "acme-pages-1", timestamp=period_start + 60)
        send(client, setup, "6", "acme-pages-2", timestamp=period_start + 120)
        send(client, setup, "9", "acme-pages-typo", timestamp=period_start + 120)
        client.v1.billing.meter_event_adjustments.create(
            params={"event_name": setup.meter.event_name, "cancel": {"identifier": "acme-pages-typo"}}
        )
        keyed = client.v1.customers.create(
            params={"name": "Globex"}, options={"idempotency_key": "switchboard-customer-2"}
        )
        window = (period_start - 86400, period_start + 2 * 86400)
        before = {
            "now": emulator.now(),
            "summaries": _summaries(client, setup, *window),
            "events": [event.id for event in client.v1.events.list(params={"limit": 100}).data],
            "state": _without_now(emulator.state()),
        }
    assert before["summaries"] == [0, 10, 0]

    with running_emulator(subprocess_mode=True, state_file=state_file) as emulator:
        assert _without_now(emulator.state()) == before["state"]
        assert emulator.now() >= before["now"]  # the offset is kept: real time is a month behind
        client = make_client(emulator)
        assert client.v1.customers.retrieve(setup.customer.id).name == "Acme Corp"
        assert client.v1.billing.meters.retrieve(setup.meter.id).event_name == setup.meter.event_name
        assert client.v1.prices.retrieve(setup.price.id).unit_amount_decimal == Decimal("1.25")
        by_lookup_key = client.v1.prices.list(params={"lookup_keys": ["pages_rendered-price"]})
        assert [price.id for price in by_lookup_key.data] == [setup.price.id]
        item = client.v1.subscriptions.retrieve(setup.subscription.id)["items"].data[0]
        assert item.current_period_start == period_start
        assert client.v1.subscription_items.retrieve(item.id).price.id == setup.price.id
        assert sorted(invoice.id for invoice in client.v1.invoices.list().data) == sorted(closed)
        assert [event.id for event in client.v1.events.list(params={"limit": 100}).data] == before["events"]

        send(client, setup, "4", "acme-pages-1", timestamp=period_start + 60)  # a resent push
        assert emulator.state()["meter_events"]["deduplicated"] == 1
        assert _summaries(client, setup, *window) == before["summaries"]
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.billing.meter_event_adjustments.create(
                params={"event_name": setup.meter.event_name, "cancel": {"identifier": "acme-pages-typo"}}
            )
        assert caught.value.code == "meter_event_already_cancelled"
        again = client.v1.customers.create(
            params={"name": "Globex"}, options={"idempotency_key": "switchboard-customer-2"}
        )
        assert again.id == keyed.id
        assert emulator.state()["customers"] == before["state"]["customers"]

        # The restored period goes on: closing it bills the usage kept (4 + 6, the typo cancelled).
        invoice_id = emulator.advance(31 * 86400)["invoices"][0]
        assert client.v1.invoices.retrieve(invoice_id).lines.data[0].quantity == 10


def test_in_process_emulator_takes_a_state_file(tmp_path):
    state_file = tmp_path / "stripe.json"
    with running_emulator(state_file=state_file) as emulator:
        customer = make_client(emulator).v1.customers.create(params={"name": "Acme Corp"})
        emulator.fail_payments(customer.id)
    with running_emulator(state_file=state_file) as emulator:
        assert make_client(emulator).v1.customers.retrieve(customer.id).name == "Acme Corp"
        assert emulator.server is not None and emulator.server.store.payment_failures == {customer.id: True}


def test_an_answered_write_is_on_disk_before_the_answer(tmp_path):
    state_file = tmp_path / "stripe.json"
    with running_emulator(subprocess_mode=True, state_file=state_file) as emulator:
        setup = create_metered(make_client(emulator))
        emulator.kill()  # no last save
    with running_emulator(subprocess_mode=True, state_file=state_file) as emulator:
        client = make_client(emulator)
        assert client.v1.subscriptions.retrieve(setup.subscription.id).customer == setup.customer.id
        assert client.v1.billing.meters.retrieve(setup.meter.id).status == "active"


def test_meter_events_are_saved_in_the_background(tmp_path):
    state_file = tmp_path / "stripe.json"
    with running_emulator(subprocess_mode=True, state_file=state_file) as emulator:
        client = make_client(emulator)
        setup = create_metered(client)
        send(client, setup, "7", "acme-pages-bg")
        wait_for(lambda: "acme-pages-bg" in state_file.read_text(), 30, "the background save")
        emulator.kill()
    with running_emulator(subprocess_mode=True, state_file=state_file) as emulator:
        client = make_client(emulator)
        start = day_start(emulator.now())
        assert usage(client, setup, start - 86400, start + 2 * 86400) == 7


def _start(state_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stripe_emulator", "--port", "0", "--quiet", "--state-file", str(state_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"version": 1, "customers": [{"id": "cus_', "is not valid JSON"),
        ("", "is not valid JSON"),
        ("[1, 2]", 'is not an emulator state (no "version")'),
        ('{"version": 99}', "has format version 99 and this emulator reads version 1"),
        ('{"version": 1, "customers": []}', "is damaged (KeyError: "),
    ],
)
def test_a_damaged_state_file_stops_the_start_with_one_line(tmp_path, content, reason):
    state_file = tmp_path / "stripe.json"
    state_file.write_text(content)
    finished = _start(state_file)
    assert finished.returncode == 2
    assert finished.stdout == ""  # never listened
    lines = finished.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"stripe_emulator: the state file {state_file} {reason}")
    assert lines[0].endswith("; fix it, or move it away to start with an empty emulator")
    assert state_file.read_text() == content  # left for the user to look at, not replaced


def test_a_damaged_state_file_raises_in_process(tmp_path):
    state_file = tmp_path / "stripe.json"
    state_file.write_text("{")
    with pytest.raises(StateFileError, match="is not valid JSON"):
        EmulatorServer("127.0.0.1", 0, state_file=state_file)


def test_an_unreadable_state_file_stops_the_start(tmp_path):
    (tmp_path / "var").write_text("a file where the directory should be")
    state_file = tmp_path / "var" / "stripe.json"
    finished = _start(state_file)
    assert finished.returncode == 2
    assert finished.stderr == f"stripe_emulator: cannot read the state file {state_file}: Not a directory\n"


def test_saves_leave_no_temporary_file_behind(tmp_path):
    state_file = tmp_path / "stripe.json"
    with running_emulator(state_file=state_file) as emulator:
        client = make_client(emulator)
        setup = create_metered(client)
        for n in range(5):
            send(client, setup, "1", f"acme-pages-{n}")
    assert sorted(os.listdir(tmp_path)) == ["stripe.json"]
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600  # it holds the API keys of idempotent calls
    saved = json.loads(state_file.read_text())
    assert saved["version"] == 1
    assert [entry["event"]["identifier"] for entry in saved["meter_events"]] == [
        f"acme-pages-{n}" for n in range(5)
    ]
    # A crash mid-write leaves the temporary file behind: the next start does not read it, and its
    # saves replace it.
    (tmp_path / ".stripe.json.tmp").write_text('{"version": 1, "customers": [{"id"')
    with running_emulator(state_file=state_file) as emulator:
        assert make_client(emulator).v1.customers.retrieve(setup.customer.id).name == "Acme Corp"
    assert sorted(os.listdir(tmp_path)) == ["stripe.json"]


def test_a_failed_save_keeps_the_previous_file_whole(tmp_path, monkeypatch):
    state_file = tmp_path / "stripe.json"
    store = Store()
    saver = StateFile(state_file, store)
    store.customers["cus_acme"] = {"id": "cus_acme", "name": "Acme Corp"}
    saver.save()
    previous = state_file.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    store.customers["cus_globex"] = {"id": "cus_globex", "name": "Globex"}
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StateFileError, match="No space left on device"):
        saver.save()
    monkeypatch.undo()
    assert state_file.read_bytes() == previous
    assert sorted(os.listdir(tmp_path)) == ["stripe.json"]
    saver.save()
    restored = Store()
    assert StateFile(state_file, restored).load() is True
    assert list(restored.customers) == ["cus_acme", "cus_globex"]
