"""Template filters of the usage pages: money to the cent and unit prices."""

from decimal import Decimal

from django import template

from metering import formatting

register = template.Library()


@register.filter
def money(amount: Decimal, currency: str = "usd") -> str:
    return formatting.money(amount, currency)


@register.filter
def money_totals(totals: dict[str, Decimal]) -> str:
    return formatting.money_totals(totals)


@register.filter
def unit_price(amount: Decimal, currency: str = "usd") -> str:
    return formatting.unit_price(amount, currency)
