"""The state file (``--state-file``): what the emulated Stripe account remembers, kept across restarts.

The file is one JSON object, ``{"version": 1, "saved_at": ..., "clock_offset": ..., ...}``: every
object the API made (customers, products, prices, meters, subscriptions with their items, invoices,
events), the meter events as received (arrival time, counted or not, cancellation; the identifier
dedupe window follows from them), the adjustments, the idempotent answers younger than 24 h, the
per-customer payment failures, the clock offset and the counters. The switches of
``/_emulator/config`` (faults, latency, consistency delay, webhook endpoint) are not kept: each run
takes them from its command line and control calls. Ids are random, so there is no id counter to
keep. A file of another version is refused, not guessed at.

When it is written:

- A call that creates or changes an object (customers, products, prices, meters, subscriptions,
  items, and the control calls: clock moves, payments, reset) is answered only once a save that
  includes it is on disk: the portal keeps the ids it is given, and an id Stripe then forgets would
  leave it pointing at nothing. The call wakes the saver thread and waits; calls arriving together
  share one save.
- Meter events, meter event adjustments and invoice previews, the calls that come in bursts, only
  mark the state changed; the saver thread saves at most every ``interval`` seconds (0.5 by
  default) while something changed. After a kill -9, usage answered during the last interval can
  be lost: the portal resends a push with the same identifier (deduplicated if it did arrive), and
  reconciliation finds a day whose total is short and pushes the difference.
- A clean shutdown (SIGTERM, SIGINT, ``EmulatorServer.stop``) first refuses further calls, then
  saves.

Each save writes the whole state to ``.<name>.tmp`` beside the file, fsyncs it, renames it over the
file (``os.replace``) and fsyncs the directory: a crash mid-write leaves the previous file whole, and
the leftover temp file is overwritten by the next save. Only the objects that can change are encoded
with the store's lock held; the tables that only grow (events, meter events, idempotent answers) are
copied as lists under the lock and encoded outside it, each entry once, so saving holds requests up
for little longer than copying those lists takes.
"""

import contextlib
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stripe_emulator.store import IDEMPOTENCY_SECONDS, IdempotentResult, MeterEventRecord, Store

Obj = dict[str, Any]
FORMAT_VERSION = 1
DEFAULT_INTERVAL_SECONDS = 0.5
_AFTER_LOAD_ERROR = "fix it, or move it away to start with an empty emulator"


class StateFileError(Exception):
    """The state file cannot be read, understood or written; ``str()`` is one line for the user."""


@dataclass
class _Capture:
    """The store at one moment, taken under its lock: the objects that can change already as JSON
    text, and the entries of the growing tables, which no longer change once stored."""

    change: int
    tables: dict[str, str]
    events: list[Obj]
    meter_events: list[tuple[MeterEventRecord, float | None]]  # with its canceled_at at that moment
    replays: list[tuple[tuple[str, str], IdempotentResult]]


class _Encoded:
    """JSON text of stored entries by key, reused by the next save while the same entry (by
    identity) is under the same key; entries gone from the store are dropped."""

    def __init__(self, to_json: Callable[[Any, Any], Any]) -> None:
        self._to_json = to_json
        self._texts: dict[Hashable, tuple[object, str]] = {}

    def texts(self, entries: Iterable[tuple[Hashable, object]]) -> list[str]:
        previous, current = self._texts, {}
        texts = []
        for key, entry in entries:
            cached = previous.get(key)
            if cached is None or cached[0] is not entry:
                cached = (entry, json.dumps(self._to_json(key, entry)))
            current[key] = cached
            texts.append(cached[1])
        self._texts = current
        return texts


def _meter_event_json(key: tuple[int, float | None], record: MeterEventRecord) -> Obj:
    return {
        "event": record.obj,
        "meter": record.meter_id,
        "customer": record.customer_id,
        "value": record.value,
        "timestamp": record.timestamp,
        "received_at": record.received_at,
        "counted": record.counted,
        "canceled_at": key[1],
    }


def _replay_json(scope: tuple[str, str], result: IdempotentResult) -> Obj:
    return {
        "api_key": scope[0],
        "key": scope[1],
        "fingerprint": result.fingerprint,
        "status": result.status,
        "body": result.body.decode("utf-8"),
        "stored_at": result.stored_at,
    }


def _private(path: str, flags: int) -> int:
    """Open with mode 0600: the file holds the API keys of the idempotency answers."""
    return os.open(path, flags, 0o600)


class StateFile:
    """Loads the store from ``path`` and keeps ``path`` up to date with it (see the module's docstring)."""

    def __init__(
        self, path: str | os.PathLike[str], store: Store, *, interval: float = DEFAULT_INTERVAL_SECONDS
    ) -> None:
        self.path = Path(path)
        self.store = store
        self.interval = interval
        self._temp = self.path.with_name(f".{self.path.name}.tmp")
        self._write_lock = threading.Lock()  # one save at a time, so the file only moves forward
        self._done = threading.Condition()  # guards _finished and _closed
        self._finished = 0  # store.changes as of the last save that finished (or failed)
        self._saved = -1  # store.changes as of the last save that succeeded
        self._closed = False
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._events = _Encoded(lambda key, event: event)
        self._meter_events = _Encoded(_meter_event_json)
        self._replays = _Encoded(_replay_json)

    # -- loading ----------------------------------------------------------------------------------

    def load(self) -> bool:
        """Replace the store's state with the file's; False when there is no file yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise StateFileError(f"cannot read the state file {self.path}: {reason}") from None
        try:
            snapshot = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateFileError(
                f"the state file {self.path} is not valid JSON ({exc}); {_AFTER_LOAD_ERROR}"
            ) from None
        if not isinstance(snapshot, dict) or "version" not in snapshot:
            raise StateFileError(
                f'the state file {self.path} is not an emulator state (no "version"); {_AFTER_LOAD_ERROR}'
            )
        if snapshot["version"] != FORMAT_VERSION:
            raise StateFileError(
                f"the state file {self.path} has format version {snapshot['version']!r} and this "
                f"emulator reads version {FORMAT_VERSION}; {_AFTER_LOAD_ERROR}"
            )
        try:
            _restore(self.store, snapshot)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateFileError(
                f"the state file {self.path} is damaged ({type(exc).__name__}: {exc}); {_AFTER_LOAD_ERROR}"
            ) from None
        return True

    # -- saving -----------------------------------------------------------------------------------

    def save(self) -> None:
        """Write the store's current state to the file, atomically; raises StateFileError."""
        with self._write_lock:
            with self.store.lock:
                capture = _capture(self.store)
            try:
                self._write(self._text(capture))
                self._saved = capture.change
            finally:
                with self._done:
                    self._finished = max(self._finished, capture.change)
                    self._done.notify_all()

    def start(self) -> None:
        """Start the saver thread (after ``load`` and a first ``save``)."""
        self._thread = threading.Thread(target=self._run, name="stripe-emulator-state", daemon=True)
        self._thread.start()

    def flush(self, change: int) -> None:
        """Return once a save that includes ``change`` (a ``Store.touch`` number) has finished. Call
        without the store's lock: the saver needs it."""
        with self._done:
            self._wake.set()
            self._done.wait_for(lambda: self._finished >= change or self._closed)

    def close(self) -> None:
        """Stop the saver thread and save a last time; the caller has stopped the calls."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.save()
        finally:
            with self._done:
                self._closed = True
                self._done.notify_all()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping:
                return
            if self.store.changes != self._saved:
                try:
                    self.save()
                except StateFileError as exc:
                    # The state is still in memory; the next round tries again.
                    sys.stderr.write(f"stripe_emulator: {exc} (retrying)\n")

    def _text(self, capture: _Capture) -> str:
        events = self._events.texts((event["id"], event) for event in capture.events)
        meter_events = self._meter_events.texts(
            ((i, canceled_at), record) for i, (record, canceled_at) in enumerate(capture.meter_events)
        )
        replays = self._replays.texts(capture.replays)
        members = [f'"version": {FORMAT_VERSION}', f'"saved_at": {json.dumps(time.time())}']
        members += [f"{json.dumps(name)}: {text}" for name, text in capture.tables.items()]
        for name, texts in (("events", events), ("meter_events", meter_events), ("idempotency", replays)):
            # One entry a line: the file stays readable with grep and a pager.
            members.append(f'"{name}": [' + "".join(f"\n{text}," for text in texts).rstrip(",") + "\n]")
        return "{\n" + ",\n".join(members) + "\n}\n"

    def _write(self, text: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._temp, "w", encoding="utf-8", opener=_private) as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(self._temp, self.path)
            if os.name == "posix":  # the rename itself must survive a power cut
                directory = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        except OSError as exc:
            with contextlib.suppress(OSError):  # else the next save overwrites it
                self._temp.unlink(missing_ok=True)
            raise StateFileError(f"cannot save the state file {self.path}: {exc.strerror or exc}") from None


def _capture(store: Store) -> _Capture:
    """Call with ``store.lock`` held."""
    now = store.now()
    tables: Obj = {
        "clock_offset": store.offset,
        "customers": list(store.customers.values()),
        "products": list(store.products.values()),
        "prices": list(store.prices.values()),
        "meters": list(store.meters.values()),
        # Items are kept inside their subscriptions (where the store shares them with ``items``).
        "subscriptions": list(store.subscriptions.values()),
        "periods": store.periods,
        "invoices": list(store.invoices.values()),
        "adjustments": store.adjustments,
        "payment_failures": store.payment_failures,
        "counters": store.counters,
        "requests_by_endpoint": store.requests_by_endpoint,
    }
    return _Capture(
        change=store.changes,
        tables={name: json.dumps(value) for name, value in tables.items()},
        events=list(store.events.values()),
        meter_events=[(record, record.canceled_at) for record in store.meter_events],
        # In-flight keys are not kept (their call never finished), nor answers Stripe has forgotten.
        replays=[
            (scope, result)
            for scope, result in store.idempotency.items()
            if result.done.is_set() and now - result.stored_at < IDEMPOTENCY_SECONDS
        ],
    )


def _restore(store: Store, snapshot: Obj) -> None:
    """Put a snapshot into ``store``; everything is read before anything is replaced."""

    def by_id(name: str) -> dict[str, Obj]:
        return {obj["id"]: obj for obj in snapshot[name]}

    subscriptions = by_id("subscriptions")
    records = [
        MeterEventRecord(
            obj=entry["event"],
            meter_id=entry["meter"],
            customer_id=entry["customer"],
            value=int(entry["value"]),
            timestamp=int(entry["timestamp"]),
            received_at=float(entry["received_at"]),
            counted=bool(entry["counted"]),
            canceled_at=None if entry["canceled_at"] is None else float(entry["canceled_at"]),
        )
        for entry in snapshot["meter_events"]
    ]
    idempotency = {}
    for entry in snapshot["idempotency"]:
        body = entry["body"].encode("utf-8")
        result = IdempotentResult(entry["fingerprint"], int(entry["status"]), body, float(entry["stored_at"]))
        result.done.set()
        idempotency[(entry["api_key"], entry["key"])] = result
    tables = {
        "customers": by_id("customers"),
        "products": by_id("products"),
        "prices": by_id("prices"),
        "meters": by_id("meters"),
        "subscriptions": subscriptions,
        "items": {item["id"]: item for sub in subscriptions.values() for item in sub["items"]["data"]},
        "periods": {sub_id: (int(start), int(end)) for sub_id, (start, end) in snapshot["periods"].items()},
        "invoices": by_id("invoices"),
        "events": by_id("events"),
        "meter_events": records,
        # The newest event with an identifier is the one its dedupe window and cancels refer to.
        "by_identifier": {record.obj["identifier"]: record for record in records},
        "adjustments": list(snapshot["adjustments"]),
        "payment_failures": {str(key): bool(fail) for key, fail in snapshot["payment_failures"].items()},
        "idempotency": idempotency,
        "counters": Counter({str(key): int(n) for key, n in snapshot["counters"].items()}),
        "requests_by_endpoint": Counter(
            {str(key): int(n) for key, n in snapshot["requests_by_endpoint"].items()}
        ),
    }
    offset = float(snapshot["clock_offset"])
    with store.lock:
        store.clear()
        for name, table in tables.items():
            setattr(store, name, table)
        store.offset = offset
