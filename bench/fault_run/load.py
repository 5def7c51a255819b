"""The fault run's client: document uploads through the API, each with an
Idempotency-Key of its own and retried with that key on connection errors and
5xx, and keyed list calls on the side; every 2xx of a keyed call to a
capability route is counted here, to be compared with the ledger's
`api_calls`."""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

UPLOADS_PATH = "/api/v1/c/documents/documents/"
# Statuses worth the same request again: the server may not have done it, or
# (409) is still doing it under the same key.
RETRY_STATUSES = {409, 429, 500, 502, 503, 504}
REQUEST_TIMEOUT = 60


@dataclass
class GeneratedFile:
    name: str
    content: bytes
    content_type: str
    pages: int  # what the extraction should count on the `pages` meter


@dataclass
class LogicalUpload:
    """One upload as the user means it: one key, however many requests it takes."""

    key: str
    files: list[GeneratedFile]
    outcome: str = "pending"  # created, rejected, gave_up
    statuses: list[int | str] = field(default_factory=list)  # each attempt's status or error
    document_ids: list[int] = field(default_factory=list)
    rejected: int = 0


def _text_file(index: int, key: str, pages: int) -> GeneratedFile:
    body = "\f".join(
        f"Fault run upload {index}, page {page + 1} of {pages}. Invoice No: FR-{index}-{page} "
        f"dated 2026-11-{1 + index % 28:02d} between Acme Corp and Globex Inc; "
        f"total EUR {index},{page:02d}.\n"
        for page in range(pages)
    )
    return GeneratedFile(f"fault-{index:05d}-{key}.txt", body.encode(), "text/plain", pages)


def _pdf_file(index: int, key: str, pages: int) -> GeneratedFile:
    from fpdf import FPDF

    document = FPDF()
    document.set_font("helvetica", size=12)
    for page in range(pages):
        document.add_page()
        document.multi_cell(0, 8, f"Fault run upload {index}, page {page + 1}. Invoice No: FR-{index}-{page}")
    return GeneratedFile(f"fault-{index:05d}-{key}.pdf", bytes(document.output()), "application/pdf", pages)


def generate_uploads(documents: int, per_request: int, seed: int) -> list[LogicalUpload]:
    """`documents` small files (text with 1-3 pages, every fifth a PDF), `per_request` to an upload."""
    rng = random.Random(seed)
    uploads: list[LogicalUpload] = []
    index = 0
    while index < documents:
        key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        files = []
        for _ in range(min(per_request, documents - index)):
            pages = rng.randint(1, 3)
            maker = _pdf_file if index % 5 == 4 else _text_file
            files.append(maker(index, key, pages))
            index += 1
        uploads.append(LogicalUpload(key, files))
    return uploads


@dataclass
class ClientCounts:
    """Counted across threads under one lock."""

    keyed_2xx: int = 0  # every 2xx answer to a keyed call on a capability route
    upload_requests: int = 0
    upload_2xx: int = 0
    upload_retries: int = 0
    list_calls: int = 0
    list_2xx: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: int) -> None:
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "keyed_2xx": self.keyed_2xx,
                "upload_requests": self.upload_requests,
                "upload_2xx": self.upload_2xx,
                "upload_retries": self.upload_retries,
                "list_calls": self.list_calls,
                "list_2xx": self.list_2xx,
                "errors": dict(sorted(self.errors.items())),
            }


class Client:
    def __init__(self, base_url: str, secret: str, counts: ClientCounts, retry_for: float) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Api-Key {secret}"}
        self.counts = counts
        self.retry_for = retry_for
        self.finished = 0
        self._finished_lock = threading.Lock()

    def upload(self, session: requests.Session, upload: LogicalUpload) -> None:
        """Post `upload` until it is answered for good (2xx or a 4xx that a
        retry would not change), or `retry_for` seconds have passed."""
        deadline = time.monotonic() + self.retry_for
        delay = 0.25
        while True:
            files = [("files", (f.name, f.content, f.content_type)) for f in upload.files]
            headers = {**self.headers, "Idempotency-Key": upload.key}
            self.counts.add(upload_requests=1)
            status: int | str
            try:
                response = session.post(
                    self.base_url + UPLOADS_PATH, files=files, headers=headers, timeout=REQUEST_TIMEOUT
                )
                status = response.status_code
            except requests.RequestException as error:
                status = type(error).__name__
                self.counts.error(f"upload {status}")
            upload.statuses.append(status)
            if isinstance(status, int) and 200 <= status < 300:
                self.counts.add(keyed_2xx=1, upload_2xx=1)
                body = response.json()
                upload.document_ids = [document["id"] for document in body.get("documents", [])]
                upload.rejected = len(body.get("rejected", []))
                upload.outcome = "created"
                break
            if isinstance(status, int) and status not in RETRY_STATUSES:
                self.counts.error(f"upload {status}")
                upload.outcome = "rejected"
                break
            if isinstance(status, int):
                self.counts.error(f"upload {status}")
            if time.monotonic() > deadline:
                upload.outcome = "gave_up"
                break
            self.counts.add(upload_retries=1)
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
        with self._finished_lock:
            self.finished += 1

    def uploader(self, work: queue.Queue[LogicalUpload]) -> None:
        session = requests.Session()
        while True:
            try:
                upload = work.get_nowait()
            except queue.Empty:
                return
            self.upload(session, upload)

    def lister(self, stop: threading.Event, interval: float) -> None:
        """Keyed, metered list calls (`api_calls` meter), counted when 2xx; not retried."""
        session = requests.Session()
        while not stop.wait(interval):
            self.counts.add(list_calls=1)
            try:
                response = session.get(
                    self.base_url + UPLOADS_PATH,
                    params={"limit": 1},
                    headers=self.headers,
                    timeout=REQUEST_TIMEOUT,
                )
            except requests.RequestException as error:
                self.counts.error(f"list {type(error).__name__}")
                continue
            if 200 <= response.status_code < 300:
                self.counts.add(keyed_2xx=1, list_2xx=1)
            else:
                self.counts.error(f"list {response.status_code}")
