"""Usage reported as CloudEvents reaches Stripe like any other: the closed
hour as one meter event, a late event for an hour already sent as a delta with
the next sequence number, and a resent event not at all (issue 18)."""

from __future__ import annotations

import pytest
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from billing import push
from billing.models import UsagePush
from portal.actions.api_keys import create_api_key
from tests.billing.test_push import stripe_total
from tests.capabilities.state import api_key_client

pytestmark = pytest.mark.django_db


def report(client, event_id: str, quantity: int, at) -> int:  # type: ignore[no-untyped-def]
    event = CloudEvent(
        {"id": event_id, "source": "https://ocr.acme-services.test", "type": "ocr.pages", "time": at},
        {"quantity": quantity},
    )
    message = to_structured(event, JSONFormat())
    return client.post(
        "/api/v1/events", data=message.body, content_type=message.headers["content-type"]
    ).status_code


def test_a_late_cloudevent_goes_to_stripe_as_a_delta(stripe, alice, acme, subscribed, hour_ago):
    subscribed(alice, acme)
    _key, secret = create_api_key(alice, acme, name="ocr service", scope="use")
    service = api_key_client(secret)
    hour = hour_ago(3)
    assert report(service, "job-1", 10, hour) == 202
    push.plan()
    assert push.send().sent == 1
    assert stripe_total(acme) == 10

    assert report(service, "job-2", 5, hour) == 202  # late, for the hour already sent
    assert report(service, "job-1", 10, hour) == 200  # a retry: counted once
    plan = push.plan()
    assert (plan.created, plan.quantity) == (1, 5)
    assert UsagePush.objects.get(seq=1).quantity == 5
    push.send()
    assert stripe_total(acme) == 15


def test_an_external_capabilitys_usage_reaches_stripe_even_after_it_is_retired(
    stripe, ivan, alice, acme, subscribed, hour_ago, django_capture_on_commit_callbacks
):
    """Registered, its meter gets a Stripe meter and price at sync; its service
    reports with its own credential; usage reported before it was retired is
    still pushed after (issue 18)."""
    from decimal import Decimal

    from django.test import Client

    from billing.models import PriceVersion, StripeMeter
    from capabilities import services
    from capabilities.services import MeterSpec, ServiceSpec

    with django_capture_on_commit_callbacks(execute=True):
        service = services.register(
            ivan,
            ServiceSpec(
                key="translation",
                name="Translation",
                meters=[MeterSpec("characters", "1,000 characters", Decimal("0.02"))],
            ),
        )
    subscribed(alice, acme, "translation")
    assert StripeMeter.objects.get(capability="translation", meter="characters").stripe_meter_id
    assert PriceVersion.objects.get(capability="translation", meter="characters").unit_price == Decimal(
        "0.02"
    )
    _credential, secret = services.issue_credential(ivan, service, name="prod")
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    def translated(event_id: str, quantity: int) -> int:
        event = CloudEvent(
            {
                "id": event_id,
                "source": "https://translation.example.com",
                "type": "translation.characters",
                "subject": "acme",
                "time": hour_ago(3),
            },
            {"quantity": quantity},
        )
        message = to_structured(event, JSONFormat())
        return client.post(
            "/api/v1/events", data=message.body, content_type=message.headers["content-type"]
        ).status_code

    assert translated("doc-1", 40) == 202
    push.plan()
    push.send()
    assert stripe_total(acme, "translation", "characters") == 40

    assert translated("doc-2", 2) == 202  # reported before the retirement, not pushed yet
    with django_capture_on_commit_callbacks(execute=True):
        services.retire(ivan, service, reason="Replaced")
    push.plan()
    push.send()
    assert stripe_total(acme, "translation", "characters") == 42
