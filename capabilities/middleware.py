"""Enforcement for pages: a capability's own pages answer 403
`capability_disabled` while it is off for the organization."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from capabilities.gate import is_enabled
from capabilities.queries import lock_off
from capabilities.registry import registry


def capability_of_route(request: HttpRequest) -> str | None:
    """The capability whose URL namespace the request resolved into, if any."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    installed = registry()
    for namespace in match.namespaces:
        key = namespace.removesuffix("-api")
        if key in installed:
            return key
    return None


class CapabilityGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        if request.path_info.startswith("/api/"):
            return None  # the API's permission class enforces, after API-key authentication
        key = capability_of_route(request)
        organization = getattr(request, "organization", None)
        if key is None or organization is None:
            return None
        if is_enabled(organization, key):
            return None
        return render(
            request,
            "capabilities/disabled.html",
            {
                "capability": registry().get(key),
                "lock": lock_off(organization, key),
                "code": "capability_disabled",
            },
            status=403,
        )
