"""Branded error pages. They render with the request so the navigation shows,
except the 500 and 503 pages, which must not depend on anything that may have
failed. Under /api/ the answers are JSON in the API's error format."""

import sys

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults

# Seconds a client is asked to wait when the database is unreachable (a restart
# or a failover takes about this long).
RETRY_AFTER = 30


def _under_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _api_error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request Django refused before any view (a body over its limits, too
    many fields, a malformed multipart body)."""
    if not _under_api(request):
        return defaults.bad_request(request, exception or Exception())
    if isinstance(exception, RequestDataTooBig):
        return _api_error(413, "request_too_large", "The request body is too large.")
    return _api_error(400, "bad_request", "The request could not be read.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else ""
    if _under_api(request):
        return _api_error(403, "permission_denied", message or "You may not do this.")
    return render(request, "403.html", {"exception": message}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _under_api(request):
        return _api_error(404, "not_found", "Nothing is at this address in the API; see /api/docs/.")
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """An uncaught exception. One that means PostgreSQL can't be reached (it is
    restarting, or failing over) is a 503 with Retry-After: nothing was done,
    and the same request succeeds once it is back."""
    error = sys.exc_info()[1]
    api = request.path.startswith("/api/")
    if isinstance(error, OperationalError | InterfaceError):
        if api:
            response: HttpResponse = JsonResponse(
                {
                    "detail": "The service is briefly unavailable; nothing was done. Retry in a moment.",
                    "code": "service_unavailable",
                },
                status=503,
            )
        else:
            response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(RETRY_AFTER)
        return response
    if api:
        return JsonResponse(
            {
                "detail": "Something went wrong on our side; the error has been logged.",
                "code": "server_error",
            },
            status=500,
        )
    return HttpResponse(loader.get_template("500.html").render(), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _under_api(request):
        return _api_error(403, "csrf_failed", f"CSRF check failed: {reason or 'no valid token'}.")
    return render(request, "403_csrf.html", status=403)
