"""Read models of the notifications pages and API, scoped to one organization."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from capabilities.notifications.models import Attempt, Delivery, Rule
from capabilities.registry import registry
from portal.models import Organization


def rules(organization: Organization) -> QuerySet[Rule]:
    return Rule.objects.filter(organization=organization)


def deliveries(organization: Organization) -> QuerySet[Delivery]:
    return Delivery.objects.filter(organization=organization).select_related("rule")


def deliveries_with_attempts(organization: Organization) -> QuerySet[Delivery]:
    return deliveries(organization).prefetch_related(
        Prefetch("attempts", queryset=Attempt.objects.order_by("number"))
    )


def capability_choices() -> list[tuple[str, str]]:
    """Capabilities a rule can watch: every app but notifications (a service
    registered as an external capability runs no jobs here)."""
    return [
        (capability.key, capability.title)
        for capability in registry().apps()
        if capability.key != "notifications"
    ]
