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
    from capabilities.registry import app_registry as registry

    errors: list[checks.CheckMessage] = []
    for capability in registry():
        declarations = [(kind, capability.job_kind(kind)) for kind in capability.job_kinds]
        declarations += [
            (f"{kind} ({version.number})", capability.job_kind(kind, version.number))
            for version in capability.releases
            for kind, _ in version.job_kinds
        ]
        for kind, declaration in declarations:
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


@checks.register()
def capability_settings_are_declared(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """A capability setting's name is upper case (operators set it as the
    environment variable <KEY>_<NAME>); CAPABILITY_SETTINGS names only declared
    settings, so a typo there is an error, not an override silently ignored; and
    every such environment variable that is set parses to its setting's type."""
    from django.core.exceptions import ImproperlyConfigured

    from capabilities.capability_settings import NAME, capability_setting, declared, overrides
    from capabilities.registry import app_registry as registry

    errors: list[checks.CheckMessage] = []
    names = set(declared())
    for key, name in sorted(names):
        if not NAME.match(name):
            errors.append(
                checks.Error(
                    f"{key}: its setting {name!r} is not an upper-case name.",
                    hint="Name capability settings like Django settings: MAX_UPLOAD_MB.",
                    id="capabilities.E005",
                )
            )
            continue
        try:
            capability_setting(key, name)
        except ImproperlyConfigured as error:
            errors.append(checks.Error(str(error), id="capabilities.E007"))
    for key, values in overrides().items():
        if key not in registry():
            errors.append(
                checks.Error(
                    f"CAPABILITY_SETTINGS names {key!r}, which is no installed capability.",
                    hint=f"Installed: {', '.join(registry().keys())}.",
                    id="capabilities.E006",
                )
            )
            continue
        for name in values:
            if (key, name) not in names:
                errors.append(
                    checks.Error(
                        f"CAPABILITY_SETTINGS[{key!r}] names {name!r}, a setting {key} does not declare.",
                        hint=f"{key} declares: {', '.join(registry().get(key).default_settings) or 'none'}.",
                        id="capabilities.E006",
                    )
                )
    return errors
