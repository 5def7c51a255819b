"""Template filters of the usage pages: money to the cent and unit prices,
registered straight from `metering.formatting` (one implementation)."""

from django import template

from metering import formatting

register = template.Library()

register.filter("money", formatting.money)
register.filter("money_totals", formatting.money_totals)
register.filter("unit_price", formatting.unit_price)
register.filter("quantity", formatting.quantity)
register.filter("count", formatting.count)
