"""`manage.py seed_demo` against an in-process emulator: sixty days of priced
usage for acme and globex, the capabilities on with their history, last
month's invoices (acme paid, globex's payment failed), this month's usage
pushed so Stripe's preview equals our estimate, a reconciliation with only
matched lines, acme's documents and sales report made through their jobs,
Translation (an external capability) registered by the IT admin and on for
acme with its service's credential in a file, and a second run that adds
nothing. Without Stripe, the local history alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from billing import queries, stripe_gateway
from billing.models import (
    BillingAccount,
    Invoice,
    ReconciliationLine,
    ReconciliationRun,
    UsagePush,
    WebhookEvent,
)
from capabilities import is_enabled, services
from capabilities.contracts.models import Contract
from capabilities.models import ExternalCapability, Job, ScheduledSwitch, ServiceCredential, ToggleChange
from capabilities.registry import registry
from metering.models import Budget, PlatformDailyUsage, UsageDailyRollup, UsageEvent
from metering.periods import billing_period
from portal.models import AuditEntry, Organization, User
from stripe_emulator.testing import EmulatorHandle, running_emulator
from tests.billing.conftest import point_at

pytestmark = pytest.mark.django_db(transaction=True)

DEMO_CAPABILITIES = [capability.key for capability in registry() if capability.demo_usage]
# Acme's sample content, made through the capabilities' jobs: five documents
# read, indexed for questions and analysed as contracts (after the analysis of
# what was there when the tracker was switched on: nothing), one sales report.
DEMO_JOBS = {
    ("documents", "succeeded"): 5,
    ("qa", "succeeded"): 5,
    ("contracts", "succeeded"): 6,
    ("reports", "succeeded"): 1,
}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path  # where seed_demo writes the translation service's credential


@pytest.fixture
def emulator(settings) -> Iterator[EmulatorHandle]:
    """A fresh emulator (its clock can go back: it holds nothing), and the portal pointed at it."""
    with running_emulator() as handle:
        point_at(handle, settings, settling_delay=3600)
        yield handle


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (UsageEvent, Job, ToggleChange, UsagePush, Invoice, WebhookEvent, ReconciliationRun, AuditEntry)
    return {model.__name__: model.objects.count() for model in models}


def test_the_demo_shows_the_whole_chain(emulator, client_for, tmp_path):
    output = seed()
    assert "Demo data ready" in output
    acme, globex = Organization.objects.get(slug="acme"), Organization.objects.get(slug="globex")
    now = timezone.now()
    assert len(DEMO_CAPABILITIES) == 5  # documents, qa, contracts, reports, notifications

    # Sixty days of priced usage across the capabilities, acme the bigger one.
    for organization in (acme, globex):
        days = UsageDailyRollup.objects.filter(organization=organization).values_list("day", flat=True)
        assert min(days) <= (now - timedelta(days=57)).date()
        assert len(set(days)) >= 45  # quiet weekends may have none
        used = set(
            UsageDailyRollup.objects.filter(organization=organization).values_list("capability", flat=True)
        )
        # Translation, the external capability, is on for acme only.
        assert used == set(DEMO_CAPABILITIES) | ({"translation"} if organization == acme else set())
    assert _units(acme) > 2 * _units(globex)
    weekdays, weekends = _daily_events_by_kind_of_day(acme)
    assert weekdays > 3 * weekends
    first_month, last_month = _events_in_halves(acme, now)
    assert last_month > first_month  # it grows

    # The finance dashboard's platform-wide days cover the whole history.
    assert PlatformDailyUsage.objects.order_by("day").first().day == min(
        UsageDailyRollup.objects.values_list("day", flat=True)
    )

    # Switched on by their owners about sixty days ago (acme paused one and came back).
    for organization, owner in ((acme, "alice@acme.test"), (globex, "gina@globex.test")):
        assert all(is_enabled(organization, key) for key in DEMO_CAPABILITIES)
        history = ToggleChange.objects.filter(organization=organization).order_by("at")
        assert {change.actor_email for change in history} == {owner}
        assert history[0].at <= now - timedelta(days=55)
    paused = ToggleChange.objects.filter(organization=acme, to_enabled=False)
    assert paused.count() == 1
    assert (
        ToggleChange.objects.filter(organization=acme, capability_key=paused[0].capability_key).count() == 3
    )

    # Last month's period closed on Stripe: acme paid; globex's payment failed.
    last_period = billing_period(billing_period(now).start - timedelta(days=1))
    acme_invoice = Invoice.objects.get(organization=acme, period_start=last_period.start)
    globex_invoice = Invoice.objects.get(organization=globex, period_start=last_period.start)
    assert (acme_invoice.status, acme_invoice.amount_remaining) == ("paid", 0)
    assert globex_invoice.status == "open" and globex_invoice.attempt_count == 1
    assert acme_invoice.total > globex_invoice.total > 0
    globex_account = BillingAccount.objects.get(organization=globex)
    assert globex_account.payment_status == BillingAccount.Payment.FAILED
    assert globex_account.payment_failed_invoice == globex_invoice.stripe_invoice_id
    assert BillingAccount.objects.get(organization=acme).payment_status == BillingAccount.Payment.OK
    gina = User.objects.get(email="gina@globex.test")
    assert "Your last payment failed" in client_for(gina).get("/").content.decode()
    alice = User.objects.get(email="alice@acme.test")
    billing_page = client_for(alice).get("/billing/").content.decode()
    assert acme_invoice.number in billing_page

    # This month's closed hours are on Stripe: its preview equals our estimate, line by line.
    for organization in (acme, globex):
        upcoming = queries.upcoming_invoice(organization, timezone.now())
        assert upcoming.stripe_error == ""
        assert upcoming.lines and not [line for line in upcoming.lines if line.differs]
        assert upcoming.stripe_total == upcoming.local_total

    # Finance's reconciliation of last month: done, every line matched.
    run = ReconciliationRun.objects.get()
    assert (run.status, run.period_start) == (ReconciliationRun.Status.DONE, last_period.start)
    statuses = set(ReconciliationLine.objects.filter(run=run).values_list("status", flat=True))
    assert statuses == {ReconciliationLine.Status.MATCHED}
    fiona = User.objects.get(email="fiona@switchboard.test")
    assert (
        f"/finance/reconciliations/{run.pk}/"
        in client_for(fiona).get("/finance/reconciliations/").content.decode()
    )

    # Acme's documents (indexed for questions and analysed as contracts once
    # read) and sales report, made through their actions and jobs.
    assert _demo_jobs(acme) == DEMO_JOBS
    documents_page = client_for(alice).get("/c/documents/").content.decode()
    assert "services-agreement-harborview.docx" in documents_page
    hits = client_for(alice).get("/c/documents/search/", {"q": "termination"}).content.decode()
    assert "services-agreement-harborview.docx" in hits
    answer = client_for(alice).post(
        "/c/qa/ask/", {"question": "How much notice ends the services agreement?"}
    )
    assert "services-agreement-harborview.docx" in answer.content.decode()
    # The tracker lists the three contracts among them, each with its next notice deadline.
    tracker = client_for(alice).get("/c/contracts/").content.decode()
    for name in (
        "nimbus-hosting-order-form.pdf",
        "services-agreement-harborview.docx",
        "lease-renewal-notice.pdf",
    ):
        assert name in tracker
    assert "memo-warehouse-move.txt" not in tracker and "invoice-BOS-2026-0417.pdf" not in tracker
    nimbus = Contract.objects.get(organization=acme, document__name="nimbus-hosting-order-form.pdf")
    # Renewing every three months with 30 days' notice: a deadline is never more than a term away.
    assert now.date() <= nimbus.next_notice_deadline <= now.date() + timedelta(days=93)
    assert nimbus.citations["notice_period_days"] and nimbus.citations["renewal_term_months"]
    harborview = Contract.objects.get(organization=acme, document__name="services-agreement-harborview.docx")
    assert harborview.next_notice_deadline >= now.date()
    report = Job.objects.get(organization=acme, capability="reports")
    totals = report.result["totals"]
    assert (totals["files"], totals["months"], totals["bad_rows"]) == (12, 12, 1)
    assert totals["rows"] > 1_000
    assert {flag["region"] for flag in report.result["flags"]} >= {"Central", "West"}

    # Budgets: Acme's total stops new work above what its month is heading for; Globex has a locked cap.
    acme_total = Budget.objects.get(organization=acme, capability=None, platform=False)
    assert acme_total.action == Budget.Action.STOP and acme_total.amount >= Decimal("10.00")
    cap = Budget.objects.get(organization__slug="globex", platform=True)
    assert cap.amount == Decimal("250.00") and "Trial account" in cap.reason
    usage_page = client_for(alice).get("/usage/").content.decode()
    assert "Budgets" in usage_page and "budget-state-stopped" not in usage_page

    # Translation: registered by the IT admin on the history's eve, on for acme
    # three weeks in, its usage pushed and priced like the apps', its service's
    # credential in an owner-only file.
    translation = ExternalCapability.objects.get(key="translation")
    assert translation.created_by.email == "ivan@switchboard.test"
    assert translation.created_at <= now - timedelta(days=59)
    assert [(m.key, m.unit) for m in translation.meters.all()] == [("characters", "character")]
    assert translation.health_url.endswith("/healthz") and translation.documentation_url.endswith("/docs")
    assert is_enabled(acme, "translation") and not is_enabled(globex, "translation")
    switched = ToggleChange.objects.get(organization=acme, capability_key="translation")
    assert switched.actor_email == "alice@acme.test" and switched.at <= now - timedelta(days=35)
    assert UsagePush.objects.filter(organization=acme, capability="translation", status="sent").exists()
    catalog = client_for(alice).get("/").content.decode()
    assert "Translation" in catalog and "Runs as a separate service" in catalog
    secret_file = tmp_path / "translation-service.credential"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    secret = secret_file.read_text().strip()
    assert services.verified_credential(secret).capability == translation
    assert "Translation's service credential" in output

    # A switch Acme scheduled for the end of the period, shown on its catalog card.
    scheduled = ScheduledSwitch.objects.get(organization=acme, status=ScheduledSwitch.Status.PENDING)
    assert scheduled.end_of_period and not scheduled.enabled
    assert (scheduled.at.day, scheduled.at.hour, scheduled.at.minute) == (1, 0, 0)  # 00:00 UTC on the 1st
    assert "Switches off" in client_for(alice).get("/").content.decode()

    # Globex runs Documents' beta; Acme stays on stable and is offered it.
    from capabilities import releases

    assert releases.running(globex, "documents").version.channel == "beta"
    assert releases.running(acme, "documents").version.channel == "stable"
    assert "Try the beta" in client_for(alice).get("/capabilities/documents/").content.decode()
    assert "Globex runs Documents" in output

    # Bob asked for a capability Acme has off: a pending request on /requests/.
    from capabilities.approvals.models import CapabilityRequest

    asked = CapabilityRequest.objects.get(organization=acme)
    assert asked.requested_by.email == "bob@acme.test" and asked.status == CapabilityRequest.Status.PENDING
    assert "Bob asked Acme Corp's owners" in output

    # A second run adds nothing, and keeps the credential.
    before = counts()
    again = seed()
    assert "already in place" in again
    assert counts() == before
    assert secret_file.read_text().strip() == secret

    # Without its file, the credential is issued again and the lost one revoked.
    secret_file.unlink()
    seed()
    renewed = secret_file.read_text().strip()
    assert renewed != secret and services.verified_credential(renewed).capability == translation
    with pytest.raises(services.CredentialRefused):
        services.verified_credential(secret)
    assert ServiceCredential.objects.filter(capability=translation, revoked=False).count() == 1


def _units(organization: Organization) -> int:
    return int(UsageEvent.objects.filter(organization=organization).aggregate(total=Sum("quantity"))["total"])


def _daily_events_by_kind_of_day(organization: Organization) -> tuple[float, float]:
    """Mean events per weekday and per weekend day."""
    by_day: dict = {}
    for row in UsageDailyRollup.objects.filter(organization=organization).values("day", "events"):
        by_day[row["day"]] = by_day.get(row["day"], 0) + row["events"]
    weekdays = [events for day, events in by_day.items() if day.weekday() < 5]
    weekends = [events for day, events in by_day.items() if day.weekday() >= 5] or [0]
    return sum(weekdays) / len(weekdays), sum(weekends) / len(weekends)


def _events_in_halves(organization: Organization, now) -> tuple[int, int]:
    middle = (now - timedelta(days=30)).date()
    rows = UsageDailyRollup.objects.filter(organization=organization, day__lt=now.date())
    first = rows.filter(day__lt=middle, day__gte=middle - timedelta(days=29)).aggregate(total=Sum("events"))
    last = rows.filter(day__gte=middle).aggregate(total=Sum("events"))
    return int(first["total"]), int(last["total"])


def _demo_jobs(organization: Organization) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for job in Job.objects.filter(organization=organization):
        found[(job.capability, job.status)] = found.get((job.capability, job.status), 0) + 1
    return found


def test_without_stripe_the_local_history_is_built_and_stripe_skipped(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_API_BASE = ""
    output = seed()
    assert "Stripe's side was skipped: Stripe is not configured (STRIPE_SECRET_KEY is unset)." in output
    acme = Organization.objects.get(slug="acme")
    assert UsageEvent.objects.filter(organization__slug="globex").exists()
    assert all(is_enabled(acme, key) for key in DEMO_CAPABILITIES)
    assert _demo_jobs(acme) == DEMO_JOBS
    assert not UsagePush.objects.exists() and not Invoice.objects.exists()
    assert not ReconciliationRun.objects.exists()
    before = counts()
    seed()
    assert counts() == before


def test_an_emulator_that_holds_objects_is_left_alone(emulator):
    """Its clock can no longer go back to the history's start: local history only."""
    stripe_gateway.create_customer(org_id=999, name="Someone else", email="")  # any object would do
    output = seed()
    assert "Stripe's side was skipped: the emulator at" in output
    assert "already holds objects" in output
    assert emulator.state()["customers"] == 1
    assert not Invoice.objects.exists()


def test_seed_demo_refuses_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run with DJANGO_ENV=production"):
        seed()
