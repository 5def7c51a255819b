"""How amounts of money and usage read on pages and in exports: costs to the
cent, unit prices to as many decimals as they have. Decimal throughout."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}
CENT = Decimal("0.01")


def _with_currency(text: str, currency: str) -> str:
    symbol = SYMBOLS.get(currency.lower())
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def money(amount: Decimal, currency: str = "usd") -> str:
    """A cost to the cent, half up: Decimal("12.345") -> "$12.35"."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-$0.00"
    return _with_currency(f"{rounded:,.2f}", currency)


def money_totals(totals: dict[str, Decimal]) -> str:
    """Totals in one or more currencies: "$12.35" or "$12.35 + €3.00"."""
    if not totals:
        return money(Decimal(0))
    return " + ".join(money(amount, currency) for currency, amount in totals.items())


def unit_price(amount: Decimal, currency: str = "usd") -> str:
    """A price per unit with two to ten decimals (the price book's precision):
    0.01 -> $0.01, 0.0025 -> $0.0025, 0.0000001 -> $0.0000001."""
    quantized = amount.quantize(Decimal("0.0000000001")).normalize()
    exponent = quantized.as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return _with_currency(f"{quantized:.{places}f}", currency)


def exact(amount: Decimal) -> str:
    """An exact amount for exports and the API, without exponent notation."""
    text = f"{amount:f}"
    return "0" if amount == 0 else text
