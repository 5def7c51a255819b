"""Navigation entries of the capabilities switched on for the current
organization, and the degraded notice on a capability's pages (its page in
the catalog and the pages of its own app)."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from capabilities import queries
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
    return {"capability_nav": entries, **degraded_notice(request)}


def page_capability(request: HttpRequest) -> str | None:
    """The capability a page belongs to: its catalog page, or a page of its app
    (the app's URLs are namespaced by its key)."""
    match = request.resolver_match
    if match is None:
        return None
    if match.url_name in {"capability", "capability_toggle"} and not match.namespace:
        return str(match.kwargs.get("key", "")) or None
    namespace = match.namespaces[0] if match.namespaces else ""
    return namespace if namespace in registry() else None


def degraded_notice(request: HttpRequest) -> dict[str, Any]:
    key = page_capability(request)
    if key is None or key not in registry():
        return {}
    health = queries.degraded_capabilities().get(key)  # one query, on capability pages only
    if health is None:
        return {}
    return {
        "degraded_capability": registry().get(key),
        "degraded_health": health,
        "degraded_window_minutes": f"{settings.CAPABILITY_DEGRADED_WINDOW / 60:g}",
    }
