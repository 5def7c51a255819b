"""Counts the API calls `api_calls.attribute` marked (those made with an
organization API key), once the response has gone out, so counting adds
nothing to the request's latency."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from metering import api_calls
from portal.api.idempotency import REPLAYED_HEADER


class ApiCallMeteringMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        call = api_calls.metered_call(request)
        # Calls that were refused or failed on our side are not billed, nor
        # replays of an idempotent write (they do nothing again).
        if call is not None and response.status_code < 400 and not response.has_header(REPLAYED_HEADER):
            response._resource_closers.append(  # type: ignore[attr-defined]
                lambda: api_calls.count_call(call.organization_id, call.capability)
            )
        return response
