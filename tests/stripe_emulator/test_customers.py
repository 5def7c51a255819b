"""Customers: create, update, list; and the emulator module run as a subprocess."""

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


def test_module_runs_as_a_subprocess():
    with running_emulator(subprocess_mode=True) as emulator:
        customer = make_client(emulator).v1.customers.create(params={"name": "sub"})
        assert customer.id.startswith("cus_")
        assert emulator.state()["requests_by_endpoint"] == {"POST /v1/customers": 1}
