"""Template filters of the report page: the figures' exact decimal strings as money."""

from decimal import Decimal, InvalidOperation

from django import template

from metering import formatting

register = template.Library()

register.filter("quantity", formatting.quantity)
register.filter("count", formatting.count)


@register.filter
def report_money(amount: str | Decimal | None, currency: str = "USD") -> str:
    if amount is None or amount == "":
        return "—"
    try:
        return formatting.money(Decimal(amount), currency.lower())
    except InvalidOperation:
        return str(amount)
