"""The API's error format: DRF's `detail` plus a stable machine-readable `code`."""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(exc, "get_codes", lambda: None)()
        response.data["code"] = code if isinstance(code, str) else "error"
    elif response.status_code == 400:
        response.data = {
            "detail": "The request has invalid fields.",
            "code": "invalid",
            "errors": response.data,
        }
    return response
