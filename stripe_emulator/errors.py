"""Errors in Stripe's wire format, and the HTTP statuses stripe-python maps to its exception classes.

stripe-python 16.1.0 (``_api_requestor.specific_v1_api_error``) maps: 429 -> RateLimitError;
400/404 with ``type=idempotency_error`` -> IdempotencyError, otherwise InvalidRequestError;
401 -> AuthenticationError; 402 -> CardError; 403 -> PermissionError; anything else (409, 5xx) -> APIError.
It retries 409 and 5xx by itself, and 429 only when the response says ``Stripe-Should-Retry: true``.
"""

from typing import Any


class StripeError(Exception):
    """An API error answered as ``{"error": {...}}`` with Stripe's status code.

    ``replayable`` says whether the idempotency layer stores this answer: Stripe saves results once an
    endpoint has started executing, but not rate-limit/lock rejections or injected faults.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
        replayable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.should_retry = should_retry
        self.replayable = replayable if replayable is not None else status < 429

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message, "request_log_url": None}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    """400 invalid_request_error (SDK: InvalidRequestError)."""
    return StripeError(400, message, param=param, code=code)


def missing_param(param: str) -> StripeError:
    """400 parameter_missing, as Stripe answers a required parameter left out."""
    return StripeError(400, f"Missing required param: {param}.", param=param, code="parameter_missing")


def no_such(kind: str, object_id: str, *, param: str = "id") -> StripeError:
    """404 resource_missing, as Stripe answers an unknown id in the path (400 when it is a body param)."""
    status = 404 if param == "id" else 400
    return StripeError(status, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")
