"""Finance's price book page: every meter with its price, and a price change
from the next billing period."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from django.utils import timezone

from billing.models import PriceVersion
from capabilities.registry import registry
from metering import formatting
from metering.periods import billing_period
from portal.models import AuditEntry
from tests.billing.conftest import MANY
from tests.html import text

pytestmark = pytest.mark.django_db


# --- finance: the price book ------------------------------------------------------------------


def price_rows(response) -> list[str]:
    markup = unescape(response.content.decode())
    body = markup[markup.index('class="table price-table"') :]
    return [" ".join(row.split()) for row in re.findall(r"<tr>.*?</tr>", body, flags=re.S)][1:]


def test_the_price_book_lists_every_meter_with_its_current_price(client_for, fiona):
    rows = price_rows(client_for(fiona).get("/finance/prices/"))
    declared = [(capability, meter) for capability in registry() for meter in capability.all_meters]
    assert declared, "the test settings install capability apps with meters"
    assert len(rows) == len(declared)
    for (capability, meter), row in zip(declared, rows, strict=True):
        assert capability.title in row
        assert f"<code>{meter.key}</code>" in row
        assert formatting.unit_price(meter.unit_price, meter.currency) in row
        assert "v1" in row and "1 version" in row
    ocr = rows[[capability.key for capability, _ in declared].index("ocr")]
    assert "$0.01" in ocr
    # OCR 2.0.0 prices pages differently: a line of its own, marked with the version.
    beta = rows[[(c.key, m.key) for c, m in declared].index(("ocr", "pages_v2_0_0"))]
    assert "$0.005" in beta and "Version 2.0.0 only" in beta


def test_a_price_change_is_version_2_from_the_next_period(client_for, fiona):
    next_start = billing_period(timezone.now()).end
    response = client_for(fiona).post(
        "/finance/prices/",
        {
            "meter": "ocr.pages",
            "unit_price": "0.0125",
            "effective_from": next_start.isoformat(),
            "note": "New OCR vendor",
        },
        follow=True,
    )
    assert response.redirect_chain == [("/finance/prices/", 302)]
    page = text(response)
    assert (
        f"ocr.pages v2 at 0.0125 applies from {next_start:%d %B %Y}. "
        "Stripe gets the new Price at the next sync."
    ) in page

    version = PriceVersion.objects.get(capability="ocr", meter="pages", version=2)
    assert (version.unit_price, version.effective_from, version.note, version.created_by) == (
        Decimal("0.0125"),
        next_start,
        "New OCR vendor",
        fiona,
    )
    assert AuditEntry.objects.filter(action="billing.price_changed", actor=fiona).count() == 1

    [ocr] = [row for row in price_rows(response) if "<code>pages</code>" in row and "Text recognition" in row]
    assert "$0.01" in ocr and "v1" in ocr  # still in force this period
    assert f"$0.0125 from {next_start:%-d %b %Y}" in ocr  # scheduled
    assert "2 versions" in ocr
    assert f"v2: $0.0125 from {next_start:%-d %b %Y} — New OCR vendor (fiona@switchboard.test)" in ocr
    assert "v1: $0.01 from the start" in ocr


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("unit_price", "-0.01", "Ensure this value is greater than or equal to 0."),
        ("unit_price", "0.00000000001", "Ensure that there are no more than 10 decimal places."),
        ("unit_price", "cheap", "Enter a number."),
        ("unit_price", "", "This field is required."),
        ("note", "", "This field is required."),
        ("note", "   ", "This field is required."),
        ("meter", "ocr.bogus", "Select a valid choice."),
        ("meter", "nothing", "Select a valid choice."),
        ("effective_from", "2020-01-01T00:00:00+00:00", "Select a valid choice."),
    ],
)
def test_an_invalid_price_change_is_shown_and_changes_nothing(client_for, fiona, field, value, error):
    data = {
        "meter": "ocr.pages",
        "unit_price": "0.02",
        "effective_from": billing_period(timezone.now()).end.isoformat(),
        "note": "Because",
        field: value,
    }
    response = client_for(fiona).post("/finance/prices/", data)
    assert response.status_code == 200
    page = text(response)
    assert error in page
    assert "Stripe gets the new Price" not in page  # no success message
    assert len(price_rows(response)) > 0  # the price list is still there
    assert not PriceVersion.objects.filter(version__gt=1).exists()
    assert not AuditEntry.objects.filter(action="billing.price_changed").exists()


def test_a_scheduled_price_shows_every_decimal_place(client_for, fiona):
    next_start = billing_period(timezone.now()).end
    response = client_for(fiona).post(
        "/finance/prices/",
        {
            "meter": "ocr.pages",
            "unit_price": "0.0000001",
            "effective_from": next_start.isoformat(),
            "note": "Nearly free",
        },
        follow=True,
    )
    assert PriceVersion.objects.get(version=2).unit_price == Decimal("0.0000001")
    [ocr] = [row for row in price_rows(response) if "<code>pages</code>" in row and "Text recognition" in row]
    assert f"$0.0000001 from {next_start:%-d %b %Y}" in ocr


def test_ten_decimal_places_are_accepted(client_for, fiona):
    response = client_for(fiona).post(
        "/finance/prices/",
        {
            "meter": "ocr.pages",
            "unit_price": "0.0123456789",
            "effective_from": billing_period(timezone.now()).end.isoformat(),
            "note": "Precise",
        },
    )
    assert response.status_code == 302
    assert PriceVersion.objects.get(version=2).unit_price == Decimal("0.0123456789")


def test_the_price_book_costs_the_same_queries_whatever_the_versions(
    client_for, fiona, django_assert_max_num_queries
):
    client = client_for(fiona)
    client.get("/finance/prices/")  # version 1 of every price
    next_start = billing_period(timezone.now()).end
    PriceVersion.objects.bulk_create(
        PriceVersion(
            capability="ocr",
            meter="pages",
            version=2 + number,
            unit_price=Decimal("0.01") + Decimal(number) / 1000,
            currency="usd",
            effective_from=next_start,
            note=f"Revision {number}",
            created_by=fiona,
        )
        for number in range(MANY)
    )
    with django_assert_max_num_queries(8):  # 6 today, whatever the versions and meters
        response = client.get("/finance/prices/")
    assert response.status_code == 200
    assert f"v{MANY + 1}" in response.content.decode()
