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


@checks.register()
def job_kinds_are_importable(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every declared job kind's function and input form import, and the input
    is a JobInputForm: a typo fails at start-up, not when a job runs."""
    from django.utils.module_loading import import_string

    from capabilities.forms import JobInputForm
    from capabilities.registry import registry

    errors: list[checks.CheckMessage] = []
    for capability in registry():
        for kind in capability.job_kinds:
            declaration = capability.job_kind(kind)
            for what, path in (("function", declaration.function), ("input", declaration.input)):
                if not path:
                    continue
                try:
                    found = import_string(path)
                except ImportError as error:
                    errors.append(
                        checks.Error(
                            f"{capability.key}.{kind}: its {what} {path!r} does not import ({error}).",
                            id="capabilities.E003",
                        )
                    )
                    continue
                if what == "input" and not (isinstance(found, type) and issubclass(found, JobInputForm)):
                    errors.append(
                        checks.Error(
                            f"{capability.key}.{kind}: its input {path!r} is not a JobInputForm.",
                            id="capabilities.E004",
                        )
                    )
    return errors
