"""Bounded request bodies: each view that takes files declares its limits (per
file, per request), every other view gets small defaults, and the body is
refused with 413 before it is read when its Content-Length is over the
request limit, or while it streams as soon as a file passes the file limit,
so nothing over a limit reaches the temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class UploadLimits:
    per_file: int  # bytes
    per_request: int  # bytes
    # A file over its limit is skipped (and named by `refused_uploads`) while the
    # rest of the request is read, for views that answer per file; otherwise 413.
    skip_oversized_files: bool = False
    megabyte: int = 1024 * 1024  # how the limits are spelled in messages (MB of this many bytes)

    def megabytes(self, size: int) -> str:
        return f"{size / self.megabyte:g} MB"


def default_limits() -> UploadLimits:
    """Of a view that declares none: a file no larger than what Django would
    keep in memory (FILE_UPLOAD_MAX_MEMORY_SIZE), a request of
    UPLOAD_MAX_REQUEST_MB."""
    return UploadLimits(
        per_file=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
        per_request=settings.UPLOAD_MAX_REQUEST_MB * 1024 * 1024,
    )


def accepts_uploads(limits: Callable[[], UploadLimits]) -> Callable[[View], View]:
    """Declare the upload limits of a view (a function or a DRF/generic view
    class); `limits` is called per request, so settings can change them."""

    def declare(view: View) -> View:
        view.upload_limits = limits  # type: ignore[attr-defined]
        return view

    return declare


def limits_of(view: Callable[..., Any]) -> UploadLimits:
    """The limits `view` declared (on itself or on its class), or the defaults."""
    for holder in (view, getattr(view, "cls", None), getattr(view, "view_class", None)):
        declared = getattr(holder, "upload_limits", None)
        if declared is not None:
            return declared()
    return default_limits()


class UploadTooLarge(Exception):
    """A request body or one of its files over its limit; the message says which."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


def _over_request(size: int, limits: UploadLimits) -> UploadTooLarge:
    return UploadTooLarge(
        f"The upload is {limits.megabytes(size)}; the limit is {limits.megabytes(limits.per_request)} "
        "per request. Upload fewer or smaller files at a time.",
        limits.per_request,
    )


class BoundedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: counts each file's bytes and the request's
    as they stream, and stops the upload past a limit, before the handlers
    after it (memory, then temporary file) get the chunk. A temporary file
    already started is closed, which deletes it."""

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        self.limits = getattr(self.request, "upload_limits", None) or default_limits()
        self.received = 0
        if content_length > self.limits.per_request:
            raise _over_request(content_length, self.limits)

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file_received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.file_received += len(raw_data)
        self.received += len(raw_data)
        if self.file_received > self.limits.per_file:
            self._discard_started_files()
            limit = self.limits.megabytes(self.limits.per_file)
            if self.limits.skip_oversized_files:
                # The rest of this file is read past, not stored; the next files go on.
                refused = self.request.__dict__.setdefault("uploads_refused", [])
                refused.append((self.file_name or "upload", f"It is over the limit of {limit} per file."))
                raise SkipFile
            message = f"“{self.file_name}” is over the limit of {limit} per file."
            raise UploadTooLarge(message, self.limits.per_file)
        if self.received > self.limits.per_request:
            self._discard_started_files()
            raise _over_request(self.received, self.limits)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _discard_started_files(self) -> None:
        for handler in getattr(self.request, "upload_handlers", []):
            started = getattr(handler, "file", None)
            if handler is not self and started is not None:
                started.close()


def refused_uploads(request: HttpRequest) -> list[tuple[str, str]]:
    """(file name, reason) of each file skipped for being over its limit."""
    return list(getattr(request, "uploads_refused", []))


def too_large(request: HttpRequest, refusal: UploadTooLarge) -> HttpResponse:
    """413: JSON in the API's error format under /api/, a page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "upload_too_large", "detail": refusal.message, "limit_bytes": refusal.limit}, status=413
        )
    back = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    response = render(request, "413.html", {"message": refusal.message, "back": back}, status=413)
    # The rest of the body is not read: the connection can't be reused.
    response["Connection"] = "close"
    return response


class UploadLimitMiddleware:
    """Before the CSRF middleware (which reads a form's body): find the view's
    limits, refuse an over-long Content-Length unread, and read a multipart
    body now, through BoundedUploadHandler, so a file over its limit is a 413
    here rather than an error wherever the body is first read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        limits = limits_of(view)
        request.upload_limits = limits  # type: ignore[attr-defined]
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limits.per_request:
            return too_large(request, _over_request(length, limits))
        if request.method == "POST" and request.content_type == "multipart/form-data":
            try:
                request.POST  # noqa: B018 -- parsed now, within the limits
            except UploadTooLarge as refusal:
                return too_large(request, refusal)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # A body first read by the view (a PUT parsed by DRF).
        if isinstance(exception, UploadTooLarge):
            return too_large(request, exception)
        return None
