"""Navigation entries of the capabilities switched on for the current organization."""

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from capabilities.gate import enabled_keys
from capabilities.registry import registry


def capability_navigation(request: HttpRequest) -> dict[str, Any]:
    organization = getattr(request, "organization", None)
    if organization is None or not organization.is_active:
        return {}
    enabled = enabled_keys(organization)
    entries = []
    for capability in registry():
        if capability.nav is None or capability.key not in enabled:
            continue
        try:
            url = reverse(f"{capability.key}:{capability.nav.url_name}")
        except NoReverseMatch:
            continue
        entries.append({"label": capability.nav.label, "url": url, "key": capability.key})
    return {"capability_nav": entries}
