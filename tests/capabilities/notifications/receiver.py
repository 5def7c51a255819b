"""A small webhook receiver on a local port, in a thread: it records what it
got and answers as told (a status per call, or sleeping past the timeout)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    # Answers to give, in order; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])
    sleep: float = 0.0
    received: list[Received] = field(default_factory=list)

    def next_status(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@contextmanager
def webhook_receiver(statuses: list[int] | None = None, sleep: float = 0.0) -> Iterator[Receiver]:
    lock = threading.Lock()
    receiver = Receiver(url="", statuses=list(statuses or [200]), sleep=sleep)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                status = receiver.next_status()
            if receiver.sleep:
                time.sleep(receiver.sleep)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the caller gave up waiting

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
