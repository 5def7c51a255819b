"""System checks of the capability framework."""

from typing import Any

from django.core import checks
from django.urls import URLPattern, URLResolver


def _views(patterns: list[Any]) -> list[tuple[str, Any]]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found.extend(_views(pattern.url_patterns))
        elif isinstance(pattern, URLPattern):
            found.append((str(pattern.pattern), pattern.callback))
    return found


@checks.register(checks.Tags.security)
def capability_api_views_are_gated(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """A capability API view that sets its own permission_classes must keep
    CapabilityEnabledForRoute, or it would answer while the capability is off."""
    from capabilities.api.permissions import CapabilityEnabledForRoute
    from capabilities.urls import capability_api_patterns

    errors: list[checks.CheckMessage] = []
    for route, callback in _views(capability_api_patterns()):
        view_class = getattr(callback, "cls", None)
        if view_class is None:
            errors.append(
                checks.Error(
                    f"Capability API route {route!r} is not a Django REST framework view.",
                    hint="Capability API endpoints must be DRF views so the capability gate applies.",
                    id="capabilities.E001",
                )
            )
            continue
        if CapabilityEnabledForRoute not in view_class.permission_classes:
            errors.append(
                checks.Error(
                    f"{view_class.__module__}.{view_class.__name__} ({route!r}) drops "
                    "CapabilityEnabledForRoute.",
                    hint="Add capabilities.api.permissions.CapabilityEnabledForRoute to its "
                    "permission_classes.",
                    id="capabilities.E002",
                )
            )
    return errors
