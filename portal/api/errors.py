"""The API's error format: DRF's `detail` plus a stable machine-readable `code`,
for every error DRF renders (400, 401, 403, 404, 405, 406, 413, 415, 429…).
Errors raised outside DRF's views under /api/ (an unknown path, a body over
Django's limits, a server error) are rendered the same way by
portal.views.errors."""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _code(exc: Exception) -> str:
    codes = getattr(exc, "get_codes", lambda: None)()
    if isinstance(codes, dict):  # ValidationError({"detail": "…"}, code="…")
        codes = codes.get("detail")
    if isinstance(codes, list) and len(codes) == 1:
        codes = codes[0]
    return codes if isinstance(codes, str) else "error"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, dict) and isinstance(response.data.get("detail"), str):
        response.data["code"] = _code(exc)
        # An error that says more than its message (402 budget_exhausted: the budget and the spend).
        response.data.update(getattr(exc, "extra", None) or {})
    elif response.status_code == 400:
        response.data = {
            "detail": "The request has invalid fields.",
            "code": "invalid",
            "errors": response.data,
        }
    else:
        response.data = {"detail": str(exc), "code": _code(exc), "errors": response.data}
    return response
