"""Auth, fault switches (down, fail_next, random rates) with the SDK's own retries, and idempotency keys."""

import json
import urllib.error
import urllib.request

import pytest
import stripe

from tests.stripe_emulator.helpers import make_client


def test_missing_api_key_is_401_in_stripes_format(emulator):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(emulator.url + "/v1/customers", timeout=5)
    assert caught.value.code == 401
    body = json.loads(caught.value.read())
    assert body["error"]["type"] == "invalid_request_error"
    assert caught.value.headers["Request-Id"].startswith("req_")


def test_publishable_key_is_refused(emulator):
    with pytest.raises(stripe.AuthenticationError):
        make_client(emulator, api_key="pk_test_nope").v1.customers.list()


def test_unknown_id_is_404(client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve("cus_missing")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"


def test_down_switch_answers_500_api_error(client, emulator):
    emulator.config(down=True)
    with pytest.raises(stripe.APIError) as caught:
        client.v1.customers.create(params={"name": "x"})
    assert caught.value.http_status == 500
    assert caught.value.json_body["error"]["type"] == "api_error"
    emulator.config(down=False)
    assert client.v1.customers.create(params={"name": "x"}).name == "x"
    assert emulator.state()["customers"] == 1


def test_fail_next_429_is_retried_by_the_sdk(emulator):
    emulator.config(fail_next=[429])
    customer = make_client(emulator, retries=2).v1.customers.create(params={"name": "retry"})
    assert customer.name == "retry"
    state = emulator.state()
    assert state["requests_by_endpoint"]["POST /v1/customers"] == 2
    assert state["customers"] == 1


def test_fail_next_429_without_retries_raises_rate_limit(emulator):
    emulator.config(fail_next=[429])
    with pytest.raises(stripe.RateLimitError):
        make_client(emulator, retries=0).v1.customers.create(params={"name": "x"})


def test_fail_next_500s_then_success_with_retries(emulator):
    emulator.config(fail_next=[500, 500])
    customer = make_client(emulator, retries=2).v1.customers.create(params={"name": "third time"})
    assert customer.name == "third time"
    assert emulator.state()["requests_by_endpoint"]["POST /v1/customers"] == 3
    assert emulator.state()["customers"] == 1


def test_error_rate_is_reproducible_with_a_seed(emulator):
    def failures() -> int:
        emulator.config(seed=7, error_rate_500=0.5)
        count = 0
        for _ in range(20):
            try:
                make_client(emulator).v1.customers.list()
            except stripe.APIError:
                count += 1
        return count

    first = failures()
    assert 0 < first < 20
    assert failures() == first


def test_same_idempotency_key_and_params_replays(client, emulator):
    first = client.v1.customers.create(params={"name": "once"}, options={"idempotency_key": "key-1"})
    second = client.v1.customers.create(params={"name": "once"}, options={"idempotency_key": "key-1"})
    assert second.id == first.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert emulator.state()["customers"] == 1


def test_same_idempotency_key_with_other_params_is_an_idempotency_error(client):
    client.v1.customers.create(params={"name": "once"}, options={"idempotency_key": "key-2"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create(params={"name": "other"}, options={"idempotency_key": "key-2"})
    assert caught.value.http_status == 400


def test_rejected_requests_are_not_saved_under_the_key(client, emulator):
    emulator.config(fail_next=[500])
    with pytest.raises(stripe.APIError):
        client.v1.customers.create(params={"name": "n"}, options={"idempotency_key": "key-3"})
    customer = client.v1.customers.create(params={"name": "n"}, options={"idempotency_key": "key-3"})
    assert customer.name == "n"
    assert emulator.state()["customers"] == 1
