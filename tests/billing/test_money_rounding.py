"""One rounding rule for money on every page (issue 13): the billing, finance
and usage pages say what Stripe's invoice says."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import price_book
from billing.models import PriceVersion
from capabilities import actions
from metering.periods import billing_period

pytestmark = pytest.mark.django_db


# --- one rounding rule for every page (issue 13) ------------------------------------------


def test_billing_finance_and_usage_pages_round_money_by_stripes_invoice_rule(
    alice, acme, globex, fiona, client_for, record_usage, hour_ago
):
    """/billing/ said $1.22 where /finance/ said $1.23 for the same usage. Stripe
    rounds each metered line item (quantity times unit_amount_decimal) to the cent
    and adds the rounded lines: 123 pages at $0.005 is $0.615 -> $0.62, 1,210
    summaries at $0.0005 is $0.605 -> $0.61; the invoice says $1.23 (the exact
    total, $1.22, is on no invoice)."""
    from metering import meter_prices

    price_book.ensure_defaults()
    for capability, meter, price in (("ocr", "pages", "0.005"), ("summaries", "summaries", "0.0005")):
        PriceVersion.objects.create(
            capability=capability,
            meter=meter,
            version=2,
            unit_price=Decimal(price),
            currency="usd",
            effective_from=billing_period(timezone.now()).start,
            note="in force",
        )
    price_book.forget_cached_prices()
    actions.set_capability_enabled(alice, acme, "summaries", enabled=True, include_related=True)
    at = hour_ago(3)
    record_usage(acme, 123, at=at)
    record_usage(acme, 1210, at=at, capability="summaries", meter="summaries")

    assert meter_prices.line_amount(123, Decimal("0.005"), "usd") == Decimal("0.62")
    assert meter_prices.line_amount(1210, Decimal("0.0005"), "usd") == Decimal("0.61")

    billing_page = client_for(alice).get("/billing/").content.decode()
    assert re.search(r'id="local-total">\$1\.23<', billing_page)
    usage_page = client_for(alice).get("/usage/").content.decode()
    assert re.search(r'id="period-cost">\$1\.23<', usage_page)
    finance_page = client_for(fiona).get(f"/finance/?organization={acme.slug}").content.decode()
    assert re.search(r'id="revenue">\$1\.23<', finance_page)
    # Across organizations too: globex's 123 pages are its own line ($0.62), so
    # the platform's revenue is $1.85, not 246 pages rounded once ($1.23 + $0.61).
    record_usage(globex, 123, at=at)
    everyone = client_for(fiona).get("/finance/").content.decode()
    assert re.search(r'id="revenue">\$1\.85<', everyone)
    assert re.search(r"Globex.*?\$0\.62<", everyone, re.S)
    # the by-meter panel adds up the same rounded lines: 246 pages are $0.62 + $0.62
    assert re.search(r"<code>pages</code>.*?\$1\.24<", everyone, re.S)
    assert "$1.23<" not in everyone.split("By capability and meter")[1].split("</table>")[0]
