"""How amounts of money and usage read on pages and in exports: costs to the
cent, unit prices to as many decimals as they have, quantities with thousands
separators and counted nouns with their plural. Decimal throughout; the one
home of these rules (template filters register these functions)."""

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
    return _with_currency(f"{quantized:,.{places}f}", currency)


def exact(amount: Decimal) -> str:
    """An exact amount for exports and the API, without exponent notation."""
    text = f"{amount:f}"
    return "0" if amount == 0 else text


def quantity(amount: int | Decimal) -> str:
    """A quantity with thousands separators: 14089 -> "14,089"."""
    if isinstance(amount, Decimal) and amount != amount.to_integral_value():
        return f"{amount.normalize():,f}"
    return f"{int(amount):,}"


def plural(noun: str) -> str:
    """The English plural of a unit label: page -> pages, search -> searches,
    summary -> summaries, API call -> API calls, page match -> page matches."""
    if noun.endswith(("s", "sh", "ch", "x", "z")):
        return f"{noun}es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{noun[:-1]}ies"
    return f"{noun}s"


def count(number: int | Decimal, noun: str) -> str:
    """A number and its noun, agreeing: "1 unit", "14,089 units", "-1 page"."""
    return f"{quantity(number)} {noun if abs(number) == 1 else plural(noun)}"
