"""Fixtures of the approval tests: asking, deciding and setting the policy as
committed actions (their after-commit emails and cache forgetting run), and
a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from capabilities.approvals import actions
from capabilities.approvals.models import CapabilityRequest
from portal.models import Organization, User
from tests.metering.usage_data import NOW


@pytest.fixture
def clock(monkeypatch) -> Callable[[datetime], None]:
    """Stop the clock at NOW; `clock(moment)` moves it."""

    def set_to(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    set_to(NOW)
    return set_to


@pytest.fixture
def ask(django_capture_on_commit_callbacks) -> Callable[..., CapabilityRequest]:
    def run(actor: User, organization: Organization, key: str, reason: str = "We need it", **options):
        with django_capture_on_commit_callbacks(execute=True):
            return actions.request_capability(actor, organization, key, reason=reason, **options)

    return run


@pytest.fixture
def approve(django_capture_on_commit_callbacks) -> Callable[..., object]:
    def run(actor: User, request: CapabilityRequest, note: str = ""):
        with django_capture_on_commit_callbacks(execute=True):
            return actions.approve_request(actor, request, note=note)

    return run


@pytest.fixture
def decline(django_capture_on_commit_callbacks) -> Callable[..., CapabilityRequest]:
    def run(actor: User, request: CapabilityRequest, note: str = ""):
        with django_capture_on_commit_callbacks(execute=True):
            return actions.decline_request(actor, request, note=note)

    return run


@pytest.fixture
def cost_limit(django_capture_on_commit_callbacks) -> Callable[..., object]:
    def run(actor: User, organization: Organization, limit: str | None):
        with django_capture_on_commit_callbacks(execute=True):
            return actions.set_cost_limit(
                actor, organization, limit=Decimal(limit) if limit is not None else None
            )

    return run


@pytest.fixture
def tenant_rule(django_capture_on_commit_callbacks) -> Callable[..., object]:
    def run(actor: User, organization: Organization, *, required: bool = True, reason: str = "Audit season"):
        with django_capture_on_commit_callbacks(execute=True):
            return actions.require_approval_for_every_switch_on(
                actor, organization, required=required, reason=reason
            )

    return run
