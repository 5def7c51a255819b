"""Template filters of the capability pages: prices through metering's
formatters, the one implementation every page uses."""

from typing import Any

from django import template

from metering import formatting

register = template.Library()

register.filter("unit_price", formatting.unit_price)
register.filter("money", formatting.money)
register.filter("quantity", formatting.quantity)
register.filter("count", formatting.count)


@register.filter
def schedules_of(scheduled: dict[str, list[Any]] | None, key: str) -> list[Any]:
    """A catalog card's pending scheduled switches (from `schedules.pending_by_capability`)."""
    return (scheduled or {}).get(key, [])


@register.filter
def version_prices(capability: Any, number: str) -> list[Any]:
    """The meters version `number` of `capability` prices differently, as
    (the capability's meter, the version's) pairs at the prices in force."""
    return list(capability.version_prices(number))
