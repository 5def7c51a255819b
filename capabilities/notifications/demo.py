"""Notifications' part of the quickstart demo: a rule per other installed
capability app (services run no jobs here), emailing the demo person when one of
its jobs fails."""

from __future__ import annotations

from capabilities.notifications import actions
from capabilities.notifications.models import Channel, Rule
from capabilities.registry import registry
from portal.models import Organization, User


def create(organization: Organization, actor: User) -> list[str]:
    """The rules `organization` lacks (one per watched capability)."""
    watched = set(Rule.objects.filter(organization=organization).values_list("capability", flat=True))
    lines = []
    for capability in registry().apps():  # a service runs no jobs here
        if capability.key in (actions.KEY, *watched):
            continue
        actions.create_rule(
            actor,
            organization,
            capability=capability.key,
            event=Rule.Event.FAILED,
            channel=Channel.EMAIL,
            target=actor.email,
        )
        lines.append(f"Rule: email {actor.email} when a {capability.title} job fails")
    return lines
