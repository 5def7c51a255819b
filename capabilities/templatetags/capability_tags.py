"""Template filters for prices and capability states."""

from decimal import Decimal

from django import template

register = template.Library()

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


@register.filter
def unit_price(amount: Decimal, currency: str = "usd") -> str:
    """Decimal price per unit, with at least two and at most six decimals:
    0.01 -> $0.01, 0.0025 -> $0.0025. Never goes through float."""
    quantized = amount.quantize(Decimal("0.000001")).normalize()
    exponent = quantized.as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    text = f"{quantized:.{places}f}"
    symbol = SYMBOLS.get(currency.lower())
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"
