"""How much temporary disk a 500 MB multipart upload to the Documents upload
takes, with Django's own upload handlers (before issue 14) and with the bounded
ones: the body is generated as it is read, Django's multipart parser reads it
through each set of handlers, and a thread samples the temporary folder's size.

    .venv/bin/python scripts/measure_upload_spool.py [megabytes]
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIRequest  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from portal.uploads import UploadTooLarge, limits_of  # noqa: E402
from tests.portal.test_uploads import BOUNDARY, GeneratedBody  # noqa: E402

MB = 1024 * 1024
DJANGO_DEFAULT = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]


def _folder_size(folder: Path) -> int:
    total = 0
    for entry in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
            total += entry.stat().st_size
    return total


def measure(handlers: list[str], megabytes: int, *, bounded: bool) -> tuple[int, int, str]:
    """(peak temporary bytes, body bytes read, outcome)."""
    from capabilities.documents.views import upload

    with tempfile.TemporaryDirectory() as folder:
        settings.FILE_UPLOAD_TEMP_DIR = folder
        settings.FILE_UPLOAD_HANDLERS = handlers
        body = GeneratedBody(megabytes * 1024 * 1024, name="scan.pdf")
        environ: dict[str, Any] = {"wsgi.input": body, "CONTENT_LENGTH": str(body.length)}
        request: WSGIRequest = RequestFactory().generic(
            "POST",
            "/documents/upload/",
            b"-",
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
            **environ,
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _folder_size(Path(folder)))
                done.wait(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            if bounded:
                limits = limits_of(upload)
                request.upload_limits = limits  # type: ignore[attr-defined]
                if body.length > limits.per_request:
                    raise UploadTooLarge("over the request limit, refused unread", limits.per_request)
            request.FILES  # noqa: B018
            [stored] = request.FILES.getlist("files")
            outcome = f"parsed: a {(stored.size or 0) / MB:.0f} MB file spooled, refused after as over 20 MB"
            stored.close()
        except UploadTooLarge as refusal:
            outcome = f"413: {refusal.message}"
        finally:
            done.set()
            sampler.join()
        return peak, body.read_bytes, outcome


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    bounded = ["portal.uploads.BoundedUploadHandler", *DJANGO_DEFAULT]
    runs = [
        ("Django's handlers (before)", DJANGO_DEFAULT, False, None),
        ("bounded, request limit 100 MB", bounded, True, None),
        ("bounded, request limit 600 MB", bounded, True, 600),
    ]
    for label, handlers, is_bounded, request_mb in runs:
        if request_mb:
            settings.CAPABILITY_SETTINGS = {"documents": {"MAX_REQUEST_MB": request_mb}}
        peak, read, outcome = measure(handlers, megabytes, bounded=is_bounded)
        print(f"{label}: peak temporary disk {peak / MB:.1f} MB, body read {read / MB:.1f} MB; {outcome}")


if __name__ == "__main__":
    main()
