"""Helpers for tests and benchmarks: run an emulator in-process (or as a subprocess) and drive its
control API with plain urllib calls.

    with running_emulator(summary_delay_seconds=0) as emulator:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": emulator.url})
        ...
        emulator.advance(31 * 86400)
        assert emulator.state()["meter_events"]["counted"] == 3
"""

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

from stripe_emulator.server import EmulatorServer

Obj = dict[str, Any]


class EmulatorHandle:
    """A client for one emulator's control API (``/_emulator/...``), in-process or not."""

    api_key = "sk_test_emulator"

    def __init__(self, url: str, server: EmulatorServer | None = None, process: Any = None) -> None:
        self.url = url.rstrip("/")
        self.server = server  # set when the emulator runs in this process
        self._process = process

    def _call(self, method: str, path: str, data: Obj | None = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(  # noqa: S310 - the emulator's own http URL
            self.url + path, data=body, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path} -> {exc.code}: {exc.read().decode()}") from exc

    def config(self, **switches: Any) -> Obj:
        """Set switches (see ``/_emulator/config``) and return the whole configuration."""
        if not switches:
            return self._call("GET", "/_emulator/config")
        return self._call("POST", "/_emulator/config", switches)

    def now(self) -> int:
        return int(self._call("GET", "/_emulator/clock")["now"])

    def advance(self, seconds: float) -> Obj:
        """Move the clock forward; returns ``{"now": ts, "invoices": [ids of invoices created]}``."""
        return self._call("POST", "/_emulator/clock", {"advance_seconds": seconds})

    def set_clock(self, to: float) -> Obj:
        return self._call("POST", "/_emulator/clock", {"to": to})

    def state(self) -> Obj:
        return self._call("GET", "/_emulator/state")

    def reset(self) -> Obj:
        return self._call("POST", "/_emulator/reset", {})

    def fail_payments(self, customer_id: str, fail: bool = True) -> Obj:
        return self._call("POST", f"/_emulator/customers/{customer_id}/payments", {"fail": fail})

    def pay_invoice(self, invoice_id: str) -> Obj:
        """Retry payment of an open invoice (under the current payment switches)."""
        return self._call("POST", f"/_emulator/invoices/{invoice_id}/pay", {})

    def webhooks(self, wait: float = 0) -> list[Obj]:
        """Delivery attempts so far; with ``wait`` > 0, first wait (up to that many seconds) for the
        delivery queue to drain."""
        suffix = f"?wait={wait}" if wait else ""
        return self._call("GET", f"/_emulator/webhooks{suffix}")["attempts"]

    def resend(self, event_id: str) -> Obj:
        return self._call("POST", f"/_emulator/events/{event_id}/resend", {})

    def stop(self) -> None:
        """Stop cleanly (a subprocess gets SIGTERM), which saves the state file, if any, a last time."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None

    def kill(self) -> None:
        """Stop a subprocess emulator with SIGKILL: no last save, as after a crash."""
        assert self._process is not None, "only a subprocess emulator can be killed"
        self._process.kill()
        self._process.wait(timeout=30)
        self._process = None


@contextlib.contextmanager
def running_emulator(
    *,
    subprocess_mode: bool = False,
    quiet: bool = True,
    state_file: str | os.PathLike[str] | None = None,
    **config: Any,
) -> Iterator[EmulatorHandle]:
    """Start an emulator on a free port (a daemon thread, or ``python -m stripe_emulator`` with
    ``subprocess_mode=True``), keeping its state in ``state_file`` if given, apply ``config``
    switches, yield its handle, and stop it afterwards."""
    if subprocess_mode:
        state_args = ["--state-file", os.fspath(state_file)] if state_file is not None else []
        process = subprocess.Popen(  # noqa: S603 - our own module with this interpreter
            [
                sys.executable,
                "-m",
                "stripe_emulator",
                "--port",
                "0",
                *(["--quiet"] if quiet else []),
                *state_args,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator exited with status {process.wait(timeout=30)} (see its stderr)")
        handle = EmulatorHandle(line.rsplit(" ", 1)[-1].strip(), process=process)
    else:
        server = EmulatorServer("127.0.0.1", 0, quiet=quiet, state_file=state_file).start()
        handle = EmulatorHandle(server.url, server=server)
    try:
        if config:
            handle.config(**config)
        yield handle
    finally:
        handle.stop()
