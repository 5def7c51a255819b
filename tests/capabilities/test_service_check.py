"""The health check of a capability that runs as a service of its own: one GET
of its health URL with a short timeout, against a real local HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from capabilities import monitoring
from tests.workers import free_port


class Service(BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/slow":
            self.release.wait(10)  # longer than the check waits
        self.send_response(200 if self.path in ("/healthz", "/slow") else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    Service.release.set()
    server.shutdown()
    server.server_close()


def test_a_service_that_answers_2xx_is_up(service):
    check = monitoring.probe(f"{service}/healthz")
    assert check.up
    assert check.detail.startswith("Answered 200 in ")


def test_a_service_that_answers_an_error_is_down(service):
    check = monitoring.probe(f"{service}/broken")
    assert not check.up
    assert check.detail.startswith("Answered 503 in ")


def test_a_service_that_does_not_answer_in_time_is_down(service):
    Service.release.clear()
    check = monitoring.probe(f"{service}/slow", timeout=0.5)
    assert (check.up, check.detail) == (False, "No answer within 0.5 s")


def test_a_service_that_is_not_listening_is_down():
    check = monitoring.probe(f"http://127.0.0.1:{free_port()}/healthz")
    assert not check.up
    assert check.detail.startswith("Could not connect")


def test_app_capabilities_have_no_service_check():
    from capabilities.registry import registry

    assert monitoring.service_checks(list(registry())) == {}
