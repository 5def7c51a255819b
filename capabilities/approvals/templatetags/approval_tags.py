"""Template filters of capability requests."""

from __future__ import annotations

from django import template

from capabilities.approvals.queries import PendingRequest

register = template.Library()


@register.filter
def asked_for(requested: dict[str, PendingRequest] | None, key: str) -> PendingRequest | None:
    """The pending switch-on request of capability `key`, if any."""
    return (requested or {}).get(key)
