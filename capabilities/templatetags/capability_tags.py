"""Template filters of the capability pages: prices through metering's
formatters, the one implementation every page uses."""

from django import template

from metering import formatting

register = template.Library()

register.filter("unit_price", formatting.unit_price)
register.filter("money", formatting.money)
register.filter("quantity", formatting.quantity)
register.filter("count", formatting.count)
