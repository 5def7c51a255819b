"""Fixtures for the emulator tests: one emulator per module (reset before each test), an SDK client
pointed at it, a webhook receiver, and a metered setup (customer, meter, price, subscription)."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle, running_emulator
from tests.stripe_emulator.helpers import Metered, create_metered, make_client

WEBHOOK_SECRET = "whsec_test_emulator_secret"


@dataclass
class WebhookReceiver:
    """Collects deliveries; answers with the queued statuses first, then 200."""

    url: str = ""
    deliveries: list[tuple[dict[str, str], str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    sink = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            with sink.lock:
                sink.deliveries.append((dict(self.headers), body))
                status = sink.statuses.pop(0) if sink.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}/billing/stripe/webhook/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sink
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def _module_emulator(receiver: WebhookReceiver) -> Iterator[EmulatorHandle]:
    with running_emulator(webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET) as handle:
        yield handle


@pytest.fixture
def emulator(_module_emulator: EmulatorHandle, receiver: WebhookReceiver) -> EmulatorHandle:
    _module_emulator.webhooks(wait=10)  # let the previous test's deliveries land before clearing them
    _module_emulator.reset()
    with receiver.lock:
        receiver.deliveries.clear()
        receiver.statuses.clear()
    return _module_emulator


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return make_client(emulator)


@pytest.fixture
def metered(client: stripe.StripeClient) -> Metered:
    return create_metered(client)
