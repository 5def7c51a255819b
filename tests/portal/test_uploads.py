"""Bounded uploads: a body whose Content-Length is over its view's request
limit is refused with 413 unread; a file over the per-file limit stops
being written as it streams, before more than the limit reaches the
temporary folder (Documents then name it as rejected and store the others;
other views answer 413); the message names the limit (JSON under /api/, a page on the web
forms). Bodies are generated as they are read: nothing big is allocated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.urls import reverse

from capabilities.actions import set_capability_enabled
from capabilities.documents.models import Document
from capabilities.reports.models import UploadSet

BOUNDARY = "switchboard-test-boundary"
MB = 1024 * 1024
COUNTED: dict[str, int] = {"bytes": 0}


class CountingTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's handler that spools to disk, counting what it writes."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        COUNTED["bytes"] += len(raw_data)
        super().receive_data_chunk(raw_data, start)


class GeneratedBody:
    """A multipart body with one file of `size` bytes, produced as it is read;
    `read_bytes` says how much of it the server read."""

    def __init__(
        self,
        size: int,
        name: str = "big.txt",
        field: str = "files",
        after: tuple[tuple[str, bytes], ...] = (),
    ) -> None:
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        # Small files after the big one, in the same field.
        more = b"".join(
            (
                f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{other}"\r\n'
                "Content-Type: text/plain\r\n\r\n"
            ).encode()
            + content
            for other, content in after
        )
        self.tail = more + f"\r\n--{BOUNDARY}--\r\n".encode()
        self.size = size
        self.length = len(self.head) + size + len(self.tail)
        self.read_bytes = 0
        self._chunks = self._produce()
        self._pending = b""

    def _produce(self) -> Iterator[bytes]:
        yield self.head
        left = self.size
        while left:
            step = min(left, 256 * 1024)
            yield b"x" * step
            left -= step
        yield self.tail

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            try:
                self._pending += next(self._chunks)
            except StopIteration:
                break
        taken, self._pending = (
            (self._pending, b"") if size < 0 else (self._pending[:size], self._pending[size:])
        )
        self.read_bytes += len(taken)
        return taken

    def readline(self, size: int = -1) -> bytes:  # not used by the multipart parser
        return self.read(size)


def post_generated(client, url: str, body: GeneratedBody, **extra: str):  # type: ignore[no-untyped-def]
    return client.generic(
        "POST",
        url,
        b"-",  # replaced by the generated body below
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        **{"wsgi.input": body, "CONTENT_LENGTH": str(body.length), **extra},
    )


@pytest.fixture(autouse=True)
def spooling(settings, tmp_path):
    """Files over 64 KB go to a temporary folder of the test's, counted."""
    COUNTED["bytes"] = 0
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    settings.FILE_UPLOAD_HANDLERS = [
        "portal.uploads.BoundedUploadHandler",
        "django.core.files.uploadhandler.MemoryFileUploadHandler",
        "tests.portal.test_uploads.CountingTemporaryFileUploadHandler",
    ]
    return tmp_path


REPORTS_API = "/api/v1/c/reports/upload-sets/"


@pytest.fixture
def api(client_for, alice, acme):
    set_capability_enabled(alice, acme, "documents", enabled=True)
    return client_for(alice)


DOCUMENTS_API = "/api/v1/c/documents/documents/"


@pytest.mark.django_db
def test_a_body_over_the_request_limit_is_refused_unread(api, settings, spooling):
    body = GeneratedBody(500 * MB)  # the 500 MB upload
    response = post_generated(api, DOCUMENTS_API, body)
    assert response.status_code == 413
    assert response.json()["code"] == "upload_too_large"
    assert "the limit is 100 MB per request" in response.json()["detail"]
    assert body.read_bytes == 0 and COUNTED["bytes"] == 0
    assert not Document.objects.exists()
    assert list(spooling.iterdir()) == []


@pytest.mark.django_db
def test_a_file_over_its_limit_is_not_stored_and_named_as_rejected(api, capability_settings, spooling):
    """Documents answer per file: past the per-file limit the file is read past
    (nothing more reaches the temporary folder) and named as rejected."""
    capability_settings("documents", MAX_REQUEST_MB=600)  # so the 500 MB body is read
    body = GeneratedBody(500 * MB, name="scan.pdf")
    response = post_generated(api, DOCUMENTS_API, body)
    assert response.status_code == 400
    assert response.json()["code"] == "files_rejected"
    assert response.json()["rejected"] == [
        {"name": "scan.pdf", "message": "It is over the limit of 20 MB per file."}
    ]
    assert COUNTED["bytes"] <= 20 * MB  # the rest was read past, not written
    assert list(spooling.iterdir()) == []  # the started temporary file is gone
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_the_files_after_one_over_its_limit_are_stored(api, capability_settings, spooling):
    capability_settings("documents", MAX_UPLOAD_MB=1)
    body = GeneratedBody(3 * MB, name="scan.pdf", after=(("notes.txt", b"Meeting notes"),))
    response = post_generated(api, DOCUMENTS_API, body)
    assert response.status_code == 201, response.content
    assert [document["name"] for document in response.json()["documents"]] == ["notes.txt"]
    assert response.json()["rejected"] == [
        {"name": "scan.pdf", "message": "It is over the limit of 1 MB per file."}
    ]
    assert list(Document.objects.values_list("name", flat=True)) == ["notes.txt"]
    assert COUNTED["bytes"] <= MB


@pytest.mark.django_db
def test_files_within_the_limits_are_uploaded(api, capability_settings):
    capability_settings("documents", MAX_UPLOAD_MB=1)
    body = GeneratedBody(MB - 10, name="fits.txt")
    response = post_generated(api, DOCUMENTS_API, body)
    assert response.status_code == 201, response.content
    assert Document.objects.get().size == MB - 10


@pytest.mark.django_db
def test_the_web_form_names_the_file_over_the_limit_and_stores_the_others(api, capability_settings):
    capability_settings("documents", MAX_UPLOAD_MB=1)
    body = GeneratedBody(2 * MB, name="big.pdf", after=(("small.txt", b"A few words"),))
    response = post_generated(api, reverse("documents:upload"), body)
    assert response.status_code == 302
    flashed = [str(message) for message in response.wsgi_request._messages]
    assert "big.pdf was not uploaded: It is over the limit of 1 MB per file." in flashed
    assert list(Document.objects.values_list("name", flat=True)) == ["small.txt"]


@pytest.mark.django_db
def test_the_web_form_answers_a_page_naming_the_request_limit(api, capability_settings):
    capability_settings("documents", MAX_REQUEST_MB=1)
    body = GeneratedBody(2 * MB, name="big.pdf")
    response = post_generated(
        api, reverse("documents:upload"), body, HTTP_REFERER="http://testserver/documents/"
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "This upload is too large" in page
    assert "the limit is 1 MB per request" in page
    assert 'href="http://testserver/documents/"' in page
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_reports_uploads_have_their_own_limits(
    client_for, alice, acme, capability_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        set_capability_enabled(alice, acme, "reports", enabled=True)
    client = client_for(alice)
    capability_settings("reports", MAX_FILE_BYTES=1_000_000)
    response = post_generated(client, REPORTS_API, GeneratedBody(3_000_000, name="year.csv"))
    assert response.status_code == 413
    assert response.json()["detail"] == "“year.csv” is over the limit of 1 MB per file."
    capability_settings("reports", MAX_REQUEST_BYTES=2_000_000)
    response = post_generated(client, REPORTS_API, GeneratedBody(3_000_000, name="year.csv"))
    assert "the limit is 2 MB per request" in response.json()["detail"]
    page = post_generated(client, reverse("reports:index"), GeneratedBody(3_000_000))
    assert page.status_code == 413 and "the limit is 2 MB per request" in page.content.decode()
    assert not UploadSet.objects.exists()


@pytest.mark.django_db
def test_a_view_that_takes_no_files_takes_small_ones_only(api, settings, spooling):
    """Defaults: files up to what Django would keep in memory."""
    body = GeneratedBody(200 * 1024)
    response = post_generated(api, "/api/v1/jobs/", body)
    assert response.status_code == 413
    assert "over the limit of 0.0625 MB per file" in response.json()["detail"]
    assert COUNTED["bytes"] <= 64 * 1024
    assert list(spooling.iterdir()) == []


@pytest.mark.django_db
def test_any_body_over_the_default_request_limit_is_refused_unread(api, settings):
    settings.UPLOAD_MAX_REQUEST_MB = 1
    body = GeneratedBody(2 * MB)
    response = api.generic(
        "POST",
        "/api/v1/jobs/",
        b"-",
        content_type="application/json",
        **{"wsgi.input": body, "CONTENT_LENGTH": str(body.length)},
    )
    assert response.status_code == 413
    assert body.read_bytes == 0
