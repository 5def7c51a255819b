"""Fixtures of the billing tests: the offline Stripe emulator (one server for
the session, reset before each test) with the portal's settings pointed at
it, and helpers to put usage in the ledger at a chosen time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from billing import sync
from billing.models import BillingAccount, ReconciliationLine, ReconciliationRun
from capabilities import actions
from metering import ledger
from portal.models import Organization, User
from stripe_emulator.testing import EmulatorHandle, running_emulator

WEBHOOK_SECRET = "whsec_switchboard_tests"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorHandle]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def stripe(emulator_server: EmulatorHandle, settings) -> EmulatorHandle:  # type: ignore[no-untyped-def]
    """A fresh emulator, and the portal configured to talk to it."""
    emulator_server.reset()
    emulator_server.config(
        latency_ms=0,
        summary_delay_seconds=0,
        error_rate_429=0,
        error_rate_500=0,
        drop_rate=0,
        down=False,
        fail_payments=False,
        fail_next=[],
        drop_next_meter_events=0,
        webhook_url="",
        webhook_secret=WEBHOOK_SECRET,
    )
    point_at(emulator_server, settings, settling_delay=3600)
    return emulator_server


def point_at(emulator: EmulatorHandle, settings, *, settling_delay: int) -> None:  # type: ignore[no-untyped-def]
    """Configure the portal (this process) to talk to `emulator`; the SDK makes
    no retries of its own, so tests see every failure."""
    settings.STRIPE_SECRET_KEY = emulator.api_key
    settings.STRIPE_API_BASE = emulator.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.BILLING_SETTLING_DELAY = settling_delay
    settings.BILLING_PUSH_CLOSE_DELAY = 300


def closed_hour(now: datetime, hours: float = 3) -> datetime:
    """A moment inside a closed hour, `hours` before `now`. In the first hours
    of a UTC day it moves six hours further back, so that every moment a test
    takes (1 to 5 hours ago) falls on the same day: one reconciliation line."""
    moment = now - timedelta(hours=hours)
    if now.hour < 6:
        moment -= timedelta(hours=6)
    return moment.replace(minute=20, second=0, microsecond=0)


@pytest.fixture
def now() -> datetime:
    """The moment the test starts: the real clock, read once. Usage must be
    recent relative to the real clock, because what these tests drive reads it
    with no `now` to pass (the billing page, the push's cursor, a
    reconciliation started from its page) and so does the Stripe emulator
    (meter events from the last 35 days only). Every moment a test puts usage
    at comes from this one reading, so a test running across an hour's end
    still sees its hours where it put them."""
    return datetime.now(UTC)


@pytest.fixture
def hour_ago(now: datetime) -> Callable[..., datetime]:
    """`closed_hour` from the test's `now`: hour_ago(3) is a moment inside the
    hour that closed three hours before the test started."""

    def moment(hours: float = 3) -> datetime:
        return closed_hour(now, hours)

    return moment


@pytest.fixture
def record_usage() -> Callable[..., None]:
    """Put usage in the ledger as a job would, at a chosen time."""
    counter = iter(range(1, 10**6))

    def record(
        organization: Organization,
        quantity: int,
        *,
        at: datetime,
        capability: str = "ocr",
        meter: str = "pages",
    ) -> None:
        with transaction.atomic():
            ledger.append(
                [
                    ledger.UsageRecord(
                        organization_id=organization.pk,
                        capability=capability,
                        meter=meter,
                        quantity=quantity,
                        occurred_at=at,
                        idempotency_key=f"test:{organization.pk}:{capability}:{meter}:{next(counter)}:{at}",
                    )
                ]
            )

    return record


@pytest.fixture
def subscribed(stripe, django_capture_on_commit_callbacks) -> Callable[[User, Organization], None]:
    """Switch OCR on for an organization and sync it to Stripe."""

    def run(owner: User, organization: Organization, key: str = "ocr") -> None:
        with django_capture_on_commit_callbacks(execute=False):
            actions.set_capability_enabled(owner, organization, key, enabled=True)
        sync.sync_all()

    return run


@pytest.fixture
def account(stripe, alice: User, acme: Organization, subscribed) -> BillingAccount:  # type: ignore[no-untyped-def]
    """Acme's billing account, subscribed on the emulator with OCR switched on."""
    subscribed(alice, acme)
    return BillingAccount.objects.get(organization=acme)


def failed_payment(organization: Organization, **fields: object) -> BillingAccount:
    """The organization's billing account, its payment failed a day ago."""
    return BillingAccount.objects.create(
        organization=organization,
        stripe_customer_id="cus_test",
        payment_status=BillingAccount.Payment.FAILED,
        payment_failed_at=timezone.now() - timedelta(days=1),
        payment_failed_invoice="in_failed_1",
        **fields,
    )


# Query-count tests put more rows than a page shows, so that a query per row
# (an N+1) would show in the count.
MANY = 40


def many_runs(triggered_by: User, count: int = MANY) -> list[ReconciliationRun]:
    """Finished runs of the current period, every other one by `triggered_by`
    (the others by the daily schedule)."""
    now = timezone.now()
    return ReconciliationRun.objects.bulk_create(
        ReconciliationRun(
            period_start=now,
            period_end=now,
            checked_until=now,
            status=ReconciliationRun.Status.DONE,
            triggered_by=triggered_by if number % 2 else None,
        )
        for number in range(count)
    )


def many_lines(run: ReconciliationRun, organizations: list[Organization], count: int = MANY) -> None:
    """Matched lines of `run`, one day each, spread over `organizations`."""
    today = timezone.now().date()
    ReconciliationLine.objects.bulk_create(
        ReconciliationLine(
            run=run,
            organization=organizations[number % len(organizations)],
            capability="ocr",
            meter="pages",
            day=today - timedelta(days=number),
            local_quantity=number,
            stripe_quantity=number,
            status=ReconciliationLine.Status.MATCHED,
        )
        for number in range(count)
    )
