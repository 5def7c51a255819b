"""Counts API calls made with an organization API key, once the response has
gone out, so counting adds nothing to the request's latency."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from metering import api_calls
from portal.api.idempotency import REPLAYED_HEADER


class ApiCallMeteringMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        organization_id = getattr(request, "api_key_organization_id", None)
        capability = getattr(request, "metered_capability", None)
        # Calls that were refused or failed on our side are not billed, nor
        # replays of an idempotent write (they do nothing again).
        if (
            organization_id
            and capability
            and response.status_code < 400
            and not response.has_header(REPLAYED_HEADER)
        ):
            response._resource_closers.append(  # type: ignore[attr-defined]
                lambda: api_calls.count_call(organization_id, capability)
            )
        return response
