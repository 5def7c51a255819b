"""System checks of the tenancy app."""

from typing import Any

from django.core import checks
from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/v1/"


def _routes(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found.extend(_routes(pattern.url_patterns, prefix + str(pattern.pattern)))
        elif isinstance(pattern, URLPattern):
            found.append((prefix + str(pattern.pattern), pattern.callback))
    return found


def tenancy_errors(patterns: list[Any]) -> list[checks.CheckMessage]:
    """Every view under /api/v1/ keeps IsAuthenticated and OrganizationMember
    (the active organization and membership checks of the defaults), or says
    why not in a non-empty `tenancy_opt_out` (platform-only views, ...)."""
    from rest_framework.permissions import IsAuthenticated

    from portal.api.permissions import OrganizationMember

    errors: list[checks.CheckMessage] = []
    for route, callback in _routes(patterns):
        if not route.startswith(API_PREFIX):
            continue
        view_class = getattr(callback, "cls", None)
        opt_out = getattr(view_class or callback, "tenancy_opt_out", "")
        if opt_out:
            continue
        name = f"{view_class.__module__}.{view_class.__name__}" if view_class else str(callback)
        if view_class is None:
            errors.append(
                checks.Error(
                    f"API route {route!r} ({name}) is not a Django REST framework view.",
                    hint="Make it a DRF view, or give it a `tenancy_opt_out` saying why it is exempt.",
                    id="portal.E001",
                )
            )
            continue
        classes = list(view_class.permission_classes)
        missing = [
            needed.__name__
            for needed in (IsAuthenticated, OrganizationMember)
            if not any(isinstance(c, type) and issubclass(c, needed) for c in classes)
        ]
        if missing:
            errors.append(
                checks.Error(
                    f"{name} ({route!r}) drops {' and '.join(missing)}: it would answer for a "
                    "suspended organization or a caller outside it.",
                    hint="Keep the REST_FRAMEWORK default permission classes in its permission_classes, "
                    'or set `tenancy_opt_out = "<why>"` on a view that is not organization-scoped.',
                    id="portal.E002",
                )
            )
    return errors


@checks.register(checks.Tags.security)
def api_views_keep_tenancy(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    return tenancy_errors(get_resolver().url_patterns)
