"""Products and prices: validation rules, archiving, lists."""

from decimal import Decimal

import pytest
import stripe


def test_metered_price_needs_an_existing_meter(client):
    base = {"currency": "usd", "unit_amount": "5", "product_data": {"name": "P"}}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create(params={**base, "recurring": {"interval": "month", "usage_type": "metered"}})
    assert caught.value.param == "recurring[meter]"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create(
            params={
                **base,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_missing"},
            }
        )
    assert caught.value.param == "recurring[meter]"


def test_unit_amount_decimal_allows_twelve_places(client):
    ok = client.v1.prices.create(
        params={"currency": "usd", "unit_amount_decimal": "0.000000000001", "product_data": {"name": "P"}}
    )
    # stripe-python 16 hands decimal_string fields back as Decimal
    assert ok.unit_amount_decimal == Decimal("0.000000000001") and ok.unit_amount is None
    raw = ok.last_response.data["unit_amount_decimal"]
    assert raw == "0.000000000001"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create(
            params={
                "currency": "usd",
                "unit_amount_decimal": "0.0000000000001",
                "product_data": {"name": "P"},
            }
        )
    assert caught.value.param == "unit_amount_decimal"


def test_price_archive_and_list_filters(client):
    product = client.v1.products.create(params={"name": "Pages"})
    keep = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": "3", "product": product.id, "lookup_key": "keep"}
    )
    old = client.v1.prices.create(params={"currency": "usd", "unit_amount": "4", "product": product.id})
    client.v1.prices.update(old.id, params={"active": False})
    assert [p.id for p in client.v1.prices.list(params={"active": True}).data] == [keep.id]
    assert [p.id for p in client.v1.prices.list(params={"lookup_keys": ["keep"]}).data] == [keep.id]
    assert client.v1.prices.retrieve(old.id).active is False
