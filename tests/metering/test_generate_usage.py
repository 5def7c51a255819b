"""`generate_usage`: synthetic usage through the ledger, the same every time for
the same seed, never twice, never in production."""

import re
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour

from metering import meter_prices
from metering.management.commands.generate_usage import SyntheticOrganization, synthetic_usage
from metering.meter_prices import MeterInfo
from metering.models import EventKind, UsageEvent, UsageRollup
from portal.models import AuditEntry, Organization
from tests.factories import OrganizationFactory

SMALL = ["--orgs=2", "--days=3", "--seed=7", "--start=2026-03-02"]
KEY = re.compile(r"^synthetic:(synthetic-\d{4}):([\w-]+):(\w+):(\d{4}-\d\d-\d\dT\d\d):(\d+)$")


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_usage", *args, stdout=out)
    return out.getvalue()


def ledger_rows() -> list[tuple]:
    return list(
        UsageEvent.objects.order_by("idempotency_key").values_list(
            "idempotency_key", "organization__slug", "capability", "meter", "kind", "quantity", "occurred_at"
        )
    )


def rollups() -> dict[tuple, tuple[int, int]]:
    return {
        (row.organization_id, row.capability, row.meter, row.hour): (row.quantity, row.events)
        for row in UsageRollup.objects.all()
    }


def events_by_hour() -> dict[tuple, tuple[int, int]]:
    rows = (
        UsageEvent.objects.annotate(hour=TruncHour("occurred_at", tzinfo=UTC))
        .values("organization_id", "capability", "meter", "hour")
        .annotate(total=Sum("quantity"), count=Count("id"))
    )
    return {
        (row["organization_id"], row["capability"], row["meter"], row["hour"]): (row["total"], row["count"])
        for row in rows
    }


@pytest.mark.django_db
def test_small_run_writes_usage_for_synthetic_organizations_and_installed_meters():
    output = generate(*SMALL)

    organizations = Organization.objects.filter(slug__startswith="synthetic-").order_by("slug")
    assert [organization.slug for organization in organizations] == ["synthetic-0001", "synthetic-0002"]
    assert all(organization.name for organization in organizations)
    assert AuditEntry.objects.filter(action="organization.created", actor_email="generate_usage").count() == 2

    installed = {(info.capability, info.meter) for info in meter_prices.meters()}
    events = list(UsageEvent.objects.select_related("organization"))
    assert len(events) > 100
    assert {(event.capability, event.meter) for event in events} == installed
    assert {event.organization.slug for event in events} == {"synthetic-0001", "synthetic-0002"}
    kinds = {"api_calls": EventKind.API_CALLS, "compute_seconds": EventKind.COMPUTE}
    for event in events:
        match = KEY.match(event.idempotency_key)
        assert match, event.idempotency_key
        slug, capability, meter, hour, _ = match.groups()
        assert (slug, capability, meter) == (event.organization.slug, event.capability, event.meter)
        assert hour == f"{event.occurred_at.astimezone(UTC):%Y-%m-%dT%H}"
        assert datetime(2026, 3, 2, tzinfo=UTC) <= event.occurred_at < datetime(2026, 3, 5, tzinfo=UTC)
        assert event.quantity >= 1
        assert event.kind == kinds.get(event.meter, EventKind.UNITS)

    assert rollups() == events_by_hour()
    assert f"Recorded {len(events):,} usage events, skipped 0 already in the ledger" in output
    assert f"2 organizations, {len(installed)} meters, 2026-03-02 to 2026-03-04" in output


@pytest.mark.django_db
def test_a_rerun_adds_nothing():
    generate(*SMALL)
    events, totals = ledger_rows(), rollups()

    output = generate(*SMALL)

    assert ledger_rows() == events
    assert rollups() == totals
    assert f"Recorded 0 usage events, skipped {len(events):,} already in the ledger" in output
    assert Organization.objects.filter(slug__startswith="synthetic-").count() == 2
    assert "Created" not in output


@pytest.mark.django_db
def test_a_longer_rerun_adds_only_the_new_days():
    generate(*SMALL)
    first_days = ledger_rows()

    generate("--orgs=2", "--days=4", "--seed=7", "--start=2026-03-02")

    assert set(first_days) < set(ledger_rows())
    added = set(ledger_rows()) - set(first_days)
    assert {occurred_at.date() for *_, occurred_at in added} == {date(2026, 3, 5)}
    assert rollups() == events_by_hour()


@pytest.mark.django_db
def test_the_same_seed_writes_the_same_usage():
    generate(*SMALL)
    organizations = [
        SyntheticOrganization(pk, slug)
        for pk, slug in Organization.objects.filter(slug__startswith="synthetic-")
        .order_by("slug")
        .values_list("pk", "slug")
    ]

    def expected(seed: int) -> list[tuple]:
        slugs = {organization.id: organization.slug for organization in organizations}
        return sorted(
            (
                record.idempotency_key,
                slugs[record.organization_id],
                record.capability,
                record.meter,
                record.kind,
                record.quantity,
                record.occurred_at,
            )
            for day in synthetic_usage(
                organizations,
                meter_prices.meters(),
                start=date(2026, 3, 2),
                days=3,
                events_per_day=20,
                seed=seed,
            )
            for record in day
        )

    assert ledger_rows() == expected(7)
    assert expected(7) == expected(7)
    assert expected(8) != expected(7)


def test_an_organizations_usage_does_not_depend_on_the_others():
    meters = [MeterInfo("ocr", "OCR", "pages", "page", Decimal("0.01"), "usd")]
    alone = [SyntheticOrganization(1, "synthetic-0001")]
    with_others = [*alone, SyntheticOrganization(2, "synthetic-0002")]

    def usage_of_first(organizations):
        days = synthetic_usage(
            organizations, meters, start=date(2026, 3, 2), days=5, events_per_day=10, seed=3
        )
        return [record for day in days for record in day if record.organization_id == 1]

    assert usage_of_first(alone) == usage_of_first(with_others)


def test_the_usage_looks_like_usage():
    """Quieter weekends, a heavy tail of large organizations, busy working hours."""
    meters = [MeterInfo("ocr", "OCR", "pages", "page", Decimal("0.01"), "usd")]
    organizations = [SyntheticOrganization(n, f"synthetic-{n:04d}") for n in range(1, 41)]
    start = date(2026, 3, 2)  # a Monday
    records = [
        record
        for day in synthetic_usage(organizations, meters, start=start, days=28, events_per_day=20, seed=11)
        for record in day
    ]

    per_day = Counter(record.occurred_at.date() for record in records)
    weekdays = [
        per_day[start + timedelta(days=n)] for n in range(28) if (start + timedelta(days=n)).weekday() < 5
    ]
    weekends = [
        per_day[start + timedelta(days=n)] for n in range(28) if (start + timedelta(days=n)).weekday() >= 5
    ]
    assert statistics.mean(weekdays) > 2 * statistics.mean(weekends)

    per_organization = sorted(Counter(record.organization_id for record in records).values())
    assert per_organization[-1] > 5 * statistics.median(per_organization)

    # Each organization works in its own time zone: its ten busiest hours carry
    # most of its events (evenly spread, they would carry 10/24).
    for organization_id, count in Counter(record.organization_id for record in records).items():
        if count >= 200:
            hours = Counter(
                record.occurred_at.hour for record in records if record.organization_id == organization_id
            )
            assert sum(sorted(hours.values())[-10:]) > 0.6 * count
    # Roughly the requested number of events per organization, meter and day.
    assert 0.4 < len(records) / (40 * 28 * 20) < 2.5


def test_no_events_are_made_up_for_the_future():
    meters = [MeterInfo("ocr", "OCR", "pages", "page", Decimal("0.01"), "usd")]
    organizations = [SyntheticOrganization(1, "synthetic-0001")]
    until = datetime(2026, 3, 3, 12, tzinfo=UTC)
    days = synthetic_usage(
        organizations, meters, start=date(2026, 3, 2), days=3, events_per_day=50, seed=0, until=until
    )
    records = [record for day in days for record in day]

    assert records
    assert max(record.occurred_at for record in records) <= until
    everything = synthetic_usage(
        organizations, meters, start=date(2026, 3, 2), days=3, events_per_day=50, seed=0
    )
    assert records == [record for day in everything for record in day if record.occurred_at <= until]


@pytest.mark.django_db
def test_existing_synthetic_organizations_are_reused():
    OrganizationFactory(slug="synthetic-0001", name="Kept Name")

    output = generate(*SMALL)

    assert Organization.objects.get(slug="synthetic-0001").name == "Kept Name"
    assert Organization.objects.filter(slug__startswith="synthetic-").count() == 2
    assert "Created 1 synthetic organizations." in output


@pytest.mark.django_db
def test_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="DJANGO_ENV=production"):
        generate(*SMALL)
    assert not Organization.objects.filter(slug__startswith="synthetic-").exists()
    assert not UsageEvent.objects.exists()


@pytest.mark.django_db
def test_says_so_when_no_capability_is_installed(monkeypatch):
    monkeypatch.setattr(meter_prices, "meters", lambda: [])

    with pytest.raises(CommandError, match="no capabilities are installed"):
        generate(*SMALL)
    assert not Organization.objects.filter(slug__startswith="synthetic-").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("--orgs=0", "at least 1"),
        ("--days=-1", "at least 1"),
        ("--events-per-day=many", "at least 1"),
        ("--start=2026-02-30", "YYYY-MM-DD"),
    ],
)
def test_bad_arguments_are_refused_clearly(argument, message):
    with pytest.raises(CommandError, match=message):
        generate(*SMALL, argument)
    assert not UsageEvent.objects.exists()
