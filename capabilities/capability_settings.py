"""Settings a capability declares (`CapabilityConfig.default_settings`) and the
one way to read them, `capability_setting(key, name)`.

A value comes from, in order: the Django setting `CAPABILITY_SETTINGS`
(`{"documents": {"MAX_UPLOAD_MB": 50}}`, for tests and settings files), the
environment variable `<KEY>_<NAME>` (`DOCUMENTS_MAX_UPLOAD_MB=50`, what
operators set), parsed to the default's type, then the declared default. A
default may be a function of the Django settings (e.g. `outside_production`),
called when the setting is read."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import environ
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from capabilities.registry import app_registry as registry

NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")

# The types an environment variable is parsed to, by the default's type, with
# django-environ's parsers (as portal/settings.py reads its own variables).
_env = environ.Env()
_PARSERS: dict[type, Callable[[str], Any]] = {
    bool: _env.bool,
    int: _env.int,
    float: _env.float,
    str: _env.str,
}


def outside_production() -> bool:
    """A default that is on in the quickstart and tests, off in production."""
    return not settings.PRODUCTION


def environment_variable(key: str, name: str) -> str:
    """The variable an operator sets for capability `key`'s setting `name`."""
    return f"{key}_{name}".upper()


def overrides() -> dict[str, dict[str, Any]]:
    """The Django setting `CAPABILITY_SETTINGS`: capability key -> name -> value."""
    return getattr(settings, "CAPABILITY_SETTINGS", None) or {}


def capability_setting(key: str, name: str) -> Any:
    """The value of capability `key`'s setting `name`. LookupError if the
    capability is not installed or declares no such setting;
    ImproperlyConfigured if its environment variable does not parse."""
    declared = registry().get(key).default_settings
    if name not in declared:
        raise LookupError(f"Capability {key!r} declares no setting {name!r}")
    overridden = overrides().get(key, {})
    if name in overridden:
        return overridden[name]
    default = declared[name]
    if callable(default):
        default = default()
    variable = environment_variable(key, name)
    if variable not in os.environ:
        return default
    return _parse(variable, default)


def _parse(variable: str, default: Any) -> Any:
    try:
        if isinstance(default, list):
            # A list is comma separated; its items take the type of the default's items.
            return _env.list(variable, cast=type(default[0]) if default else str)
        return _PARSERS.get(type(default), _env.str)(variable)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"{variable}={os.environ[variable]!r} is not a valid {type(default).__name__} ({error})"
        ) from None


def declared() -> Iterator[tuple[str, str]]:
    """Every (capability key, setting name) the installed capabilities declare."""
    for capability in registry():
        for name in capability.default_settings:
            yield capability.key, name


def check_environment() -> None:
    """Read every declared setting once, so that an environment variable that
    does not parse (`DOCUMENTS_MAX_FILES=x`) stops the process at start-up, as
    a bad value of portal/settings.py does, instead of at the first upload."""
    for key, name in declared():
        capability_setting(key, name)
