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


@pytest.mark.django_db
def test_registered_services_are_checked_on_the_health_page_and_metrics(
    service, register, client_for, ivan, settings
):
    """Two external capabilities (issue 18): one whose health URL answers, one
    whose does not; the health page and /metrics say which, and neither shows
    workers or a queue of its own."""
    from django.core.cache import cache

    from capabilities.registry import registry

    cache.delete_many(
        [f"capabilities:service-check:{service}/healthz", f"capabilities:service-check:{service}/broken"]
    )
    register("translation", health_url=f"{service}/healthz")
    register("transcription", health_url=f"{service}/broken")

    checks = monitoring.service_checks(list(registry()))
    assert checks["translation"].up and not checks["transcription"].up

    page = client_for(ivan).get("/manage/health/").content.decode()
    assert "Service down" in page and "Answered 503" in page
    settings.METRICS_TOKEN = "scrape"
    metrics = client_for(ivan).get("/metrics", HTTP_AUTHORIZATION="Bearer scrape").content.decode()
    assert 'switchboard_capability_service_up{capability="translation"} 1.0' in metrics
    assert 'switchboard_capability_service_up{capability="transcription"} 0.0' in metrics
    assert 'switchboard_capability_workers{capability="translation"}' not in metrics
