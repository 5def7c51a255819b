"""Fixtures of the capability tests: dan (an admin of acme), and switching or
forcing a capability as a committed action."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from capabilities import actions, services
from capabilities.models import ExternalCapability
from capabilities.services import MeterSpec, ServiceSpec
from portal.models import Organization, Role, User
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def dan(acme) -> User:
    """Dan is an admin of acme: he may switch capabilities like alice, the owner."""
    user = UserFactory(email="dan@acme.test", full_name="Dan Diaz")
    MembershipFactory(user=user, organization=acme, role=Role.ADMIN)
    return user


@pytest.fixture
def switch(django_capture_on_commit_callbacks) -> Callable[..., actions.ToggleResult]:
    """Switch capabilities as the organization does, and run what happens after
    commit (the version stamp, the signal), as a real request would."""

    def run(actor: User, organization: Organization, key: str, *, enabled: bool = True, **options):
        with django_capture_on_commit_callbacks(execute=True):
            return actions.set_capability_enabled(actor, organization, key, enabled=enabled, **options)

    return run


@pytest.fixture
def force(django_capture_on_commit_callbacks) -> Callable[..., actions.ToggleResult]:
    """An IT admin forces a capability, committed."""

    def run(actor: User, organization: Organization, key: str, *, enabled: bool, reason: str, **options):
        with django_capture_on_commit_callbacks(execute=True):
            return actions.force_capability(
                actor, organization, key, enabled=enabled, reason=reason, **options
            )

    return run


@pytest.fixture
def register(ivan, django_capture_on_commit_callbacks) -> Callable[..., ExternalCapability]:
    """Register an external capability as an IT admin does (announced after commit)."""

    def run(key: str = "translation", **declared: Any) -> ExternalCapability:
        spec = ServiceSpec(
            key=key,
            name=declared.pop("name", key.replace("_", " ").capitalize()),
            meters=declared.pop("meters", [MeterSpec("characters", "1,000 characters", Decimal("0.02"))]),
            **declared,
        )
        with django_capture_on_commit_callbacks(execute=True):
            return services.register(ivan, spec)

    return run
