"""Webhook signing and delivery, as Stripe does it.

Each event is POSTed as JSON with ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload"
keyed with the endpoint secret>`` (what ``stripe.Webhook.construct_event`` verifies; ``t`` is real
time so the SDK's 300 s tolerance check passes even when the emulator clock is advanced). A background
thread delivers in emission order; non-2xx answers and connection errors are retried with backoff, and
every attempt is recorded for ``GET /_emulator/webhooks``.
"""

import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

Obj = dict[str, Any]


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``payload``."""
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class Dispatcher:
    """Delivers events to the configured endpoint from one daemon thread."""

    def __init__(
        self,
        endpoint: Callable[[], tuple[str, str]],
        retry_delays: Sequence[float] = (0.25, 0.5, 1.0),
        timeout: float = 5.0,
    ) -> None:
        self._endpoint = endpoint  # () -> (url, secret), read at delivery time
        self._retry_delays = tuple(retry_delays)
        self._timeout = timeout
        self._queue: queue.Queue[tuple[int, Obj, bool] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._generation = 0
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self.attempts: list[Obj] = []
        self._thread = threading.Thread(target=self._run, name="stripe-emulator-webhooks", daemon=True)
        self._thread.start()

    def enqueue(self, event: Obj, *, resend: bool = False) -> None:
        """Queue ``event`` for delivery (a no-op while no webhook URL is configured)."""
        url, _ = self._endpoint()
        if not url:
            return
        with self._lock:
            self._pending += 1
        self._queue.put((self._generation, json.loads(json.dumps(event)), resend))

    def reset(self) -> None:
        """Forget recorded attempts and skip everything still queued."""
        with self._lock:
            self._generation += 1
            self.attempts = []

    def snapshot(self) -> list[Obj]:
        with self._lock:
            return [dict(attempt) for attempt in self.attempts]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the queue is drained (tests use this before asserting on deliveries)."""
        with self._lock:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            generation, event, resend = job
            try:
                if generation == self._generation:
                    self._deliver(generation, event, resend)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, generation: int, event: Obj, resend: bool) -> None:
        for attempt, delay in enumerate((*self._retry_delays, None), start=1):
            url, secret = self._endpoint()
            if not url or generation != self._generation:
                return
            payload = json.dumps(event, indent=2)
            request = urllib.request.Request(  # noqa: S310 - the operator-configured webhook URL
                url,
                data=payload.encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    "Stripe-Signature": sign(payload, secret, int(time.time())),
                },
            )
            status: int | None = None
            error: str | None = None
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (urllib.error.URLError, OSError) as exc:
                error = str(getattr(exc, "reason", exc))
            ok = status is not None and 200 <= status < 300
            with self._lock:
                if generation != self._generation:
                    return
                self.attempts.append(
                    {
                        "event_id": event["id"],
                        "type": event["type"],
                        "url": url,
                        "attempt": attempt,
                        "status_code": status,
                        "error": error,
                        "succeeded": ok,
                        "resend": resend,
                        "at": time.time(),
                    }
                )
            if ok or delay is None:
                return
            time.sleep(delay)
