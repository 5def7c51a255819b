"""Each factory builds a valid, saved row; the usage event's rollups grow with it."""

import pytest

from metering.models import UsageEvent, UsageRollup
from metering.moments import hour_of
from tests.factories import BillingAccountFactory, JobFactory, UsageEventFactory, UsagePushFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("factory", [JobFactory, UsageEventFactory, BillingAccountFactory, UsagePushFactory])
def test_a_factory_saves_a_valid_row(factory):
    row = factory()

    row.full_clean()
    assert type(row).objects.filter(pk=row.pk).exists()


def test_a_usage_event_goes_through_the_ledger_and_its_rollup(acme):
    event = UsageEventFactory(organization=acme, quantity=4)
    UsageEventFactory(organization=acme, quantity=3, occurred_at=event.occurred_at)
    # A known idempotency key is ignored, as the ledger does.
    again = UsageEventFactory(organization=acme, quantity=99, idempotency_key=event.idempotency_key)

    assert again.pk == event.pk and again.quantity == 4
    assert UsageEvent.objects.filter(organization=acme).count() == 2
    rollup = UsageRollup.objects.get(organization=acme, hour=hour_of(event.occurred_at))
    assert (rollup.capability, rollup.meter, rollup.quantity, rollup.events) == ("ocr", "pages", 7, 2)


def test_a_usage_push_carries_the_senders_identifier(acme):
    push = UsagePushFactory(organization=acme, seq=2)

    assert push.identifier == f"{acme.pk}:ocr.pages:{push.window_start:%Y%m%dT%H}:2"
