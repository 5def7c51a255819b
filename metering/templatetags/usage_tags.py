"""Template filters of the usage pages: money to the cent, unit prices and budget scopes,
registered straight from `metering.formatting` (one implementation)."""

from django import template

from metering import budgets, formatting

register = template.Library()

register.filter("money", formatting.money)
register.filter("money_totals", formatting.money_totals)
register.filter("unit_price", formatting.unit_price)
register.filter("quantity", formatting.quantity)
register.filter("count", formatting.count)
register.filter("budget_scope", budgets.scope_name)
