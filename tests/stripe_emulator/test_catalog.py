"""Customers, prices and meters: shapes from the fixtures, validation rules, lists."""

from decimal import Decimal

import pytest
import stripe

from stripe_emulator.testing import running_emulator
from tests.stripe_emulator.helpers import make_client


def test_customer_create_update_and_list(client):
    created = [
        client.v1.customers.create(params={"name": f"c{i}", "metadata": {"org_id": str(i)}}) for i in range(3)
    ]
    assert created[0].id.startswith("cus_") and created[0].object == "customer"
    updated = client.v1.customers.update(created[0].id, params={"metadata": {"org_id": "", "tier": "gold"}})
    assert updated.metadata.to_dict() == {"tier": "gold"}
    page = client.v1.customers.list(params={"limit": 2})
    assert [c.name for c in page.data] == ["c2", "c1"] and page.has_more
    rest = client.v1.customers.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [c.name for c in rest.data] == ["c0"] and not rest.has_more


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


def test_meter_event_name_is_unique_among_active_meters(client):
    params = {"display_name": "Pages", "event_name": "pages", "default_aggregation": {"formula": "sum"}}
    meter = client.v1.billing.meters.create(params=params)
    assert meter.id.startswith("mtr_") and meter.customer_mapping.event_payload_key == "stripe_customer_id"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meters.create(params=params)
    assert caught.value.param == "event_name"
    assert [m.id for m in client.v1.billing.meters.list(params={"status": "active"}).data] == [meter.id]


def test_module_runs_as_a_subprocess():
    with running_emulator(subprocess_mode=True) as emulator:
        customer = make_client(emulator).v1.customers.create(params={"name": "sub"})
        assert customer.id.startswith("cus_")
        assert emulator.state()["requests_by_endpoint"] == {"POST /v1/customers": 1}
