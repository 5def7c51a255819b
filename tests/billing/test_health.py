"""Billing's part of the IT admin health page: the push backlog is what the
ledger holds for closed hours of priced meters beyond what was sent to Stripe,
whatever the planner did or did not plan."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import dateformat, timezone

from billing import push, queries, sync
from billing.models import UsagePush
from metering import ledger
from metering.moments import hour_of
from tests.factories import OrganizationFactory
from tests.portal.health_page import health_section, item

pytestmark = pytest.mark.django_db


def billing_health(client) -> str:
    return health_section(client, "Billing: usage to Stripe")


def shown(hour) -> str:
    return dateformat.format(timezone.localtime(hour), "Y-m-d H:i T")


def test_usage_the_planner_never_planned_is_a_backlog(
    stripe, client_for, ivan, fiona, alice, acme, subscribed, record_usage, hour_ago
):
    """The defect as measured: usage in closed hours, no push planned for it.
    The page said "Empty" and "Never"; the ledger says 42 units wait."""
    subscribed(alice, acme)
    oldest = hour_ago(3)
    record_usage(acme, 40, at=oldest)
    record_usage(acme, 2, at=hour_ago(2))
    assert not UsagePush.objects.exists()

    backlog = queries.backlog()
    assert (backlog.hours, backlog.quantity, backlog.organizations) == (2, 42, 1)
    assert backlog.oldest_hour == hour_of(oldest)
    assert backlog.pending == 0 and backlog.last_sent is None

    section = billing_health(client_for(ivan))
    waiting = item(section, "Push backlog")
    # Closed for hours with Stripe configured: the push is not draining.
    assert '<span class="badge badge-bad">2 hours waiting</span>' in waiting
    assert "42 units in 2 organization-meter-hours of 1 organization." in waiting
    assert f"Oldest hour: {shown(hour_of(oldest))} (" in waiting
    assert "Empty" not in section
    assert "Never" in item(section, "Last push")

    assert "No push planned yet." in waiting

    # Organization people and finance never see it, however much of it is theirs.
    for person in (alice, fiona):
        response = client_for(person).get("/manage/health/")
        assert response.status_code == 403
        assert "Push backlog" not in response.content.decode()


def test_sent_hours_leave_nothing_and_a_late_event_is_a_backlog_again(
    stripe, client_for, ivan, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    late_hour = hour_ago(3)
    record_usage(acme, 40, at=late_hour)
    record_usage(acme, 2, at=hour_ago(2))
    push.plan()
    assert push.send().sent == 2

    backlog = queries.backlog()
    assert (backlog.hours, backlog.quantity, backlog.oldest_hour, backlog.empty) == (0, 0, None, True)
    section = billing_health(client_for(ivan))
    assert '<span class="badge badge-ok">Empty</span>' in item(section, "Push backlog")
    assert f"No priced usage of a closed hour since {shown(backlog.since)} waits to be sent." in section
    assert "Never" not in item(section, "Last push")

    # A late event in an hour already sent: only its delta is outstanding.
    record_usage(acme, 4, at=late_hour + timedelta(minutes=5))
    backlog = queries.backlog()
    assert (backlog.hours, backlog.quantity, backlog.oldest_hour) == (1, 4, hour_of(late_hour))
    waiting = item(billing_health(client_for(ivan)), "Push backlog")
    assert "1 hour waiting" in waiting and "4 units in 1 organization-meter-hour of" in waiting
    assert f"Oldest hour: {shown(hour_of(late_hour))} (" in waiting

    push.plan()
    push.send()
    assert queries.backlog().empty


def test_waiting_rejected_and_cancelled_pushes_are_not_on_stripe(
    stripe, alice, acme, gina, globex, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    subscribed(gina, globex)
    record_usage(acme, 10, at=hour_ago(4))
    record_usage(acme, 20, at=hour_ago(3))
    record_usage(globex, 30, at=hour_ago(2))
    stripe.config(down=True)
    push.plan()
    push.send()
    backlog = queries.backlog()
    assert (backlog.hours, backlog.quantity, backlog.organizations, backlog.pending) == (3, 60, 2, 3)
    assert "api_error" in backlog.last_error

    stripe.config(down=False)
    assert push.send(now=timezone.now() + timedelta(hours=1)).sent == 3
    assert queries.backlog().empty

    # A push Stripe refused, or one cancelled there, leaves its hour outstanding.
    UsagePush.objects.filter(organization=acme, quantity=10).update(status=UsagePush.Status.REJECTED)
    UsagePush.objects.filter(organization=globex).update(status=UsagePush.Status.CANCELLED)
    backlog = queries.backlog()
    assert (backlog.hours, backlog.quantity, backlog.organizations, backlog.rejected) == (2, 40, 2, 1)
    assert backlog.oldest_hour == hour_of(hour_ago(4))


def sent(organization, window_start, quantity, seq=0, status=UsagePush.Status.SENT) -> UsagePush:
    """A push as the sender leaves it, without a round trip to the emulator."""
    return UsagePush.objects.create(
        organization=organization,
        capability="ocr",
        meter="pages",
        window_start=window_start,
        seq=seq,
        quantity=quantity,
        identifier=push.identifier(organization.pk, "ocr", "pages", window_start, seq),
        status=status,
        sent_at=timezone.now(),
    )


def test_usage_reconciliation_moved_within_a_day_is_not_missing(acme, record_usage):
    """Reconciliation settles a day: cancelling one hour's push and re-pushing
    its quantity into a later hour of the same day leaves nothing missing."""
    now = hour_of(timezone.now()).replace(hour=12) - timedelta(days=1)
    morning, afternoon = now - timedelta(hours=4), now - timedelta(hours=2)
    record_usage(acme, 10, at=morning)
    record_usage(acme, 5, at=afternoon)
    sent(acme, hour_of(morning), 10, status=UsagePush.Status.CANCELLED)
    sent(acme, hour_of(afternoon), 5)
    assert (queries.backlog(now=now).hours, queries.backlog(now=now).quantity) == (1, 10)
    sent(acme, hour_of(afternoon), 10, seq=1)  # the re-push
    assert queries.backlog(now=now).empty


def test_a_day_counted_above_the_ledger_offsets_no_other_day(acme, record_usage):
    now = hour_of(timezone.now()).replace(hour=12) - timedelta(days=1)
    earlier, later = now - timedelta(days=2, hours=3), now - timedelta(days=1, hours=3)
    record_usage(acme, 10, at=earlier)
    sent(acme, hour_of(earlier), 10)
    record_usage(acme, -2, at=earlier)  # a correction after the push: Stripe holds 2 too many
    record_usage(acme, 5, at=later)
    sent(acme, hour_of(later), 3)
    backlog = queries.backlog(now=now)
    assert (backlog.hours, backlog.quantity, backlog.oldest_hour) == (1, 2, hour_of(later))


def test_open_hours_and_free_meters_are_not_in_the_backlog(settings, acme, record_usage):
    settings.BILLING_PUSH_CLOSE_DELAY = 300
    # Four minutes after an hour ended: that hour is not closed yet (five minutes).
    now = hour_of(timezone.now()) - timedelta(hours=10) + timedelta(minutes=4)
    record_usage(acme, 7, at=now - timedelta(hours=2))  # closed
    record_usage(acme, 5, at=now - timedelta(minutes=30))  # ended four minutes ago
    record_usage(acme, 3, at=now)  # this hour
    record_usage(acme, 50, at=now - timedelta(hours=2), meter="compute_seconds")  # free for ocr

    backlog = queries.backlog(now=now)
    assert (backlog.hours, backlog.quantity) == (1, 7)
    assert backlog.until == hour_of(now) - timedelta(hours=1)
    assert queries.backlog(now=now + timedelta(minutes=2)).quantity == 12


def test_unconfigured_stripe_says_usage_waits(settings, client_for, ivan, acme, record_usage, hour_ago):
    settings.STRIPE_SECRET_KEY = ""
    record_usage(acme, 8, at=hour_ago(3))
    section = billing_health(client_for(ivan))
    assert "Set STRIPE_SECRET_KEY; usage waits meanwhile." in item(section, "Stripe")
    waiting = item(section, "Push backlog")
    # Waiting is what it should do without Stripe: a warning, not a failure.
    assert '<span class="badge badge-warn">1 hour waiting</span>' in waiting
    assert "8 units" in waiting
    assert "It waits until Stripe is configured." in waiting
    assert '<span class="badge badge-warn">Never</span>' in item(section, "Last push")


def test_usage_too_old_for_stripe_and_never_sent_is_not_empty(stripe, client_for, ivan, acme, record_usage):
    old = timezone.now() - timedelta(days=40)
    record_usage(acme, 9, at=old)
    backlog = queries.backlog()
    assert backlog.hours == 0 and backlog.never_sent_from == hour_of(old)
    assert not backlog.empty
    waiting = item(billing_health(client_for(ivan)), "Push backlog")
    assert '<span class="badge badge-bad">Too old to send</span>' in waiting
    assert f"Priced usage since {shown(hour_of(old))} was never sent" in waiting


def test_the_backlog_costs_the_same_queries_whatever_the_rows(
    stripe, client_for, ivan, acme, django_assert_max_num_queries, hour_ago
):
    """Twelve organizations, eight closed hours each, two meters (one free), half
    the hours sent: the backlog is a join in the database, not a query per row."""
    organizations = [acme, *(OrganizationFactory() for _ in range(11))]
    first_hour = hour_of(hour_ago(10))
    records, sent = [], []
    for organization in organizations:
        for offset in range(8):
            hour = first_hour + timedelta(hours=offset)
            for meter in ("pages", "compute_seconds"):
                records.append(
                    ledger.UsageRecord(
                        organization_id=organization.pk,
                        capability="ocr",
                        meter=meter,
                        quantity=offset + 1,
                        occurred_at=hour + timedelta(minutes=15),
                        idempotency_key=f"test:{organization.pk}:{meter}:{offset}",
                    )
                )
            if offset % 2:
                sent.append(
                    UsagePush(
                        organization=organization,
                        capability="ocr",
                        meter="pages",
                        window_start=hour,
                        seq=0,
                        quantity=offset + 1,
                        identifier=push.identifier(organization.pk, "ocr", "pages", hour, 0),
                        status=UsagePush.Status.SENT,
                        sent_at=timezone.now(),
                    )
                )
    with transaction.atomic():
        ledger.append(records)
    UsagePush.objects.bulk_create(sent)
    sync.priced_meters()  # the first call writes the default prices, once

    # Prices (2); the ledger against what was sent (1, with its SET LOCAL and,
    # inside the test's transaction, a savepoint: 4); the pushes' counts,
    # oldest error and last send (3).
    with django_assert_max_num_queries(9):
        backlog = queries.backlog()
    # The hours not sent are offsets 0, 2, 4 and 6: 1 + 3 + 5 + 7 units each.
    assert (backlog.hours, backlog.quantity, backlog.organizations) == (48, 12 * 16, 12)
    assert backlog.oldest_hour == first_hour

    client = client_for(ivan)
    # The whole page: 15, the jobs section's two aggregates and the API calls waiting for the ledger;
    # the capabilities' table: its two job aggregates and the degraded rows.
    with django_assert_max_num_queries(21):
        section = billing_health(client)
    assert "192 units in 48 organization-meter-hours of 12 organizations" in section


def test_health_says_stripe_is_not_configured_without_a_key(settings, client_for, ivan):
    settings.STRIPE_SECRET_KEY = ""
    section = billing_health(client_for(ivan))
    assert (
        '<div class="label">Stripe</div><div class="value">'
        '<span class="badge badge-warn">Not configured</span>' in section
    )
    assert "Set STRIPE_SECRET_KEY; usage waits meanwhile." in section
    assert "No priced usage of a closed hour since" in section  # there is no usage at all
    assert '<span class="badge badge-ok">Never</span>' not in section
    assert '<span class="badge badge-warn">Never</span>' in section  # no push yet


def test_health_names_the_emulator_and_the_last_push(
    stripe, client_for, ivan, alice, acme, subscribed, record_usage, hour_ago
):
    subscribed(alice, acme)
    record_usage(acme, 5, at=hour_ago(2))
    push.plan()
    push.send()
    section = billing_health(client_for(ivan))
    assert '<span class="badge badge-warn">Emulator</span>' in section
    assert f"Offline emulator at {stripe.url}" in section
    assert '<span class="badge badge-ok">Empty</span>' in section
    assert "Never" not in section
