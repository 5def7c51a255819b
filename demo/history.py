"""The quickstart demo's history: about sixty days of Acme and Globex using the
capabilities, replayed day by day through the portal's own code, so a first
visit finds what a portal in use shows.

On the demo's clock (`demo.clock`), starting sixty days ago:
- the owners switch the capabilities on (`capabilities.actions`), Globex a few
  days after Acme and one of them a week later; Acme pauses one for a few days;
- every day the ledger takes the day's made-up usage (`demo.usage`, through
  `metering.ledger.ingest`), and at the day's end billing does what beat would:
  sync, plan and send the usage push, and apply Stripe's events;
- yesterday morning Acme's owner adds each capability's sample content
  (`CapabilityConfig.demo_content`), its jobs running in this process through
  the job runner;
- month ends close billing periods on the emulator: invoices drawn up from the
  pushed usage and paid, except Globex's last one, whose card is declined;
- the clock comes to the present; finance reconciles the last closed period.

Translation, an external capability (`demo.translation`), is registered by the
demo's IT admin on the history's eve and switched on by Acme's owner three weeks
in; its past usage is made up like the apps' (its service, a process of `make
run`, reports the present's). Its service credential is written to a file
whether or not the history was built before.

Stripe's side needs the offline emulator (its clock must start in the past and
it must be empty); without it the local history is built alone. Webhooks can't
reach the portal during seeding (the web server starts after), so the events
are read from the Events API and applied through billing's webhook processing
(`billing.webhooks.catch_up`): stored and applied once, as a delivery would.

Built once: the audit entry `demo.history_built` says it is in place, and a
later run adds nothing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db.models import Count

from billing import actions, push, reconcile, sync, webhooks
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, Invoice, ReconciliationRun
from capabilities import is_enabled, releases
from capabilities.actions import set_capability_enabled
from capabilities.approvals.actions import request_capability
from capabilities.models import FeatureToggle, ToggleChange
from capabilities.registry import BETA, Capability, CapabilityConfig, registry
from capabilities.schedules import schedule_switch
from demo import translation
from demo.clock import Timeline, real_now
from demo.emulator import Emulator
from demo.usage import UsageProfile, day_of_usage
from metering import actions as metering_actions
from metering import budgets, ledger, platform
from metering.formatting import money
from metering.models import Budget
from metering.moments import hour_of
from metering.periods import billing_period
from metering.queries.usage import organization_rollups, projection
from portal import demo as portal_demo
from portal.actions.errors import ActionError
from portal.models import Organization, User

HISTORY_DAYS = 60
# A past day of the history ends here (UTC): every organization's working day
# is over (see demo.usage), so the day's usage is recorded, planned and sent
# before midnight, and a month's last day is in that month's invoice.
END_OF_DAY = time(20, 0)
IT_ADMIN = "ivan"  # the demo's IT admin (portal.demo), who registers Translation


@dataclass(frozen=True)
class Customer:
    """One demo organization's part in the history."""

    usage: UsageProfile
    owner: str  # the first name of its owner in portal.demo
    first_day: int  # the day of the history its owner starts switching capabilities on
    last_one_later: bool = False  # its last capability is switched on a week after the others
    pauses: bool = False  # switches its last capability off for a few days, then on again
    declined_at_last_close: bool = False  # its card is declined when the last period closes
    content: bool = False  # it gets the capabilities' sample content
    translation_from: int | None = None  # the day of the history its owner switches Translation on


CUSTOMERS = (
    Customer(
        UsageProfile("acme", size=1.0, monthly_growth=0.12, utc_offset=0),
        "alice",
        0,
        pauses=True,
        content=True,
        translation_from=20,
    ),
    Customer(
        UsageProfile("globex", size=0.4, monthly_growth=0.04, utc_offset=1),
        "gina",
        3,
        last_one_later=True,
        declined_at_last_close=True,
    ),
)
# (day of the history, local time, switched on, why)
PAUSE = (
    (24, time(17, 30), False, "Paused while the team moves offices"),
    (27, time(9, 10), True, "Back after the office move"),
)


@dataclass(frozen=True)
class Toggle:
    at: datetime
    organization: Organization
    actor: User
    capability: Capability
    enabled: bool
    reason: str


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)  # the sample content made, one line each
    events: int = 0
    pushes: int = 0

    def say(self, line: str) -> None:
        self.lines.append(line)


def build(credential_file: Path | None = None) -> Report:
    """Build the demo's history, or say it is already in place; then write
    Translation's service credential to `credential_file` (default: the var
    folder's) if it isn't there."""
    report = Report()
    built = portal_demo.history_built()
    emulator = Emulator.at_api_base()
    credential_file = credential_file or translation.credential_file()
    if built is not None:
        cast = portal_demo.ensure_people()
        when = built.get("built_at", "earlier")
        report.say(f"The demo's history is already in place (built {when}); nothing added.")
        _translation_after_the_history(report, cast, credential_file)
        if built.get("stripe") == "built" and emulator is not None and not emulator.holds_objects():
            report.say(
                "The emulator no longer holds the demo's Stripe history (it was restarted without its "
                "state); `make clean` then `make run` builds both again."
            )
        return report
    present = real_now()
    start = datetime.combine(present.date() - timedelta(days=HISTORY_DAYS), time.min, UTC)
    stripe_skipped = _why_stripe_is_skipped(emulator)
    eve = start - timedelta(days=1) + timedelta(hours=9)  # the people arrive the day before
    with (
        _tasks_in_process(),
        _stripe_left_alone(bool(stripe_skipped)),
        Timeline(eve, None if stripe_skipped else emulator) as timeline,
    ):
        cast = portal_demo.ensure_people()
        apps: list[Capability] = [capability for capability in registry().apps() if capability.demo_usage]
        translation.ensure_registered(cast.people[IT_ADMIN])
        capabilities = [*apps, translation.demonstrated()]
        toggles = sorted(
            _toggles(cast, apps, start) + _translation_toggles(cast, capabilities[-1], start),
            key=lambda toggle: toggle.at,
        )
        _walk(timeline, report, cast, capabilities, toggles, start, stripe=not stripe_skipped)
    report.say(
        f"History: {(present.date() - start.date()).days + 1} days from {start:%d %B %Y}, "
        f"{report.events:,} usage events of {', '.join(c.title for c in capabilities)} "
        f"for {' and '.join(customer.usage.slug for customer in CUSTOMERS)}."
    )
    if stripe_skipped:
        report.say(f"Stripe's side was skipped: {stripe_skipped}.")
    else:
        _describe_stripe(report, cast)
    report.lines.extend(report.content)
    if not stripe_skipped:
        _reconcile_last_period(report, cast, real_now())
    _set_budgets(report, cast)
    _schedule_switch(report, cast)
    _try_a_beta(report, cast)
    _ask_for_one(report, cast)
    portal_demo.record_history_built(
        {
            "built_at": f"{real_now():%Y-%m-%d %H:%M} UTC",
            "start": start.date().isoformat(),
            "events": report.events,
            "stripe": stripe_skipped or "built",
        }
    )
    service = translation.ensure_registered(cast.people[IT_ADMIN])
    report.say(translation.ensure_credential(cast.people[IT_ADMIN], service, credential_file))
    return report


def _translation_toggles(cast: portal_demo.Cast, capability: Capability, start: datetime) -> list[Toggle]:
    return [
        Toggle(
            _local(customer, start.date() + timedelta(days=customer.translation_from), time(11, 15)),
            cast.organizations[customer.usage.slug],
            cast.people[customer.owner],
            capability,
            True,
            capability.demo_reason,
        )
        for customer in CUSTOMERS
        if customer.translation_from is not None
    ]


def _translation_after_the_history(report: Report, cast: portal_demo.Cast, credential_file: Path) -> None:
    """A history built before Translation was in the demo gets it now: registered,
    switched on where the history would have (unless it was switched since), and
    its credential written."""
    admin = cast.people[IT_ADMIN]
    service = translation.ensure_registered(admin)
    for customer in CUSTOMERS:
        organization = cast.organizations[customer.usage.slug]
        switched = ToggleChange.objects.filter(organization=organization, capability_key=translation.KEY)
        if customer.translation_from is not None and not service.is_retired and not switched.exists():
            set_capability_enabled(
                cast.people[customer.owner],
                organization,
                translation.KEY,
                enabled=True,
                reason=translation.DEMO_REASON,
                include_related=True,
            )
            report.say(f"Translation switched on for {organization.name}.")
    report.say(translation.ensure_credential(admin, service, credential_file))


def _why_stripe_is_skipped(emulator: Emulator | None) -> str:
    """Why Stripe's side of the history can't be built, or "" when it can."""
    if not gateway.configured():
        return "Stripe is not configured (STRIPE_SECRET_KEY is unset)"
    if emulator is None:
        return "STRIPE_API_BASE does not point at the offline emulator, whose clock can start in the past"
    if emulator.holds_objects():
        return f"the emulator at {emulator.url} already holds objects, so its clock can't go back"
    return ""


@contextlib.contextmanager
def _stripe_left_alone(left_alone: bool) -> Iterator[None]:
    """When Stripe's side is skipped, nothing of the history may reach Stripe
    (a toggle's billing sync would, backdated): the portal then runs as without
    a key. The periodic sync brings Stripe in line at the present, after."""
    if not left_alone:
        yield
        return
    key = settings.STRIPE_SECRET_KEY
    settings.STRIPE_SECRET_KEY = ""
    try:
        yield
    finally:
        settings.STRIPE_SECRET_KEY = key


@contextlib.contextmanager
def _tasks_in_process() -> Iterator[None]:
    """Celery tasks run here, at once (no worker is up while seeding): a job's
    message runs the job runner in this process, a toggle's billing sync runs
    before the next step."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    trace = logging.getLogger("celery.app.trace")  # a line per task: the seed's own output says enough
    level = trace.level
    trace.setLevel(logging.WARNING)
    try:
        yield
    finally:
        conf.task_always_eager, conf.task_eager_propagates = saved
        trace.setLevel(level)


def _local(customer: Customer, day: date, at: time) -> datetime:
    """`at` on the organization's clock on `day`, in UTC."""
    return datetime.combine(day, at, UTC) - timedelta(hours=customer.usage.utc_offset)


def _toggles(cast: portal_demo.Cast, capabilities: list[Capability], start: datetime) -> list[Toggle]:
    """Every switch of the history, in order."""
    toggles = []
    for customer in CUSTOMERS:
        organization = cast.organizations[customer.usage.slug]
        owner = cast.people[customer.owner]
        for position, capability in enumerate(capabilities):
            later = customer.last_one_later and position == len(capabilities) - 1 and position > 0
            day = start.date() + timedelta(days=customer.first_day + (7 if later else 0))
            at = _local(customer, day, time(9)) + timedelta(minutes=5 + 20 * position)
            toggles.append(Toggle(at, organization, owner, capability, True, capability.demo_reason))
        if customer.pauses and capabilities:
            for day_number, local_time, enabled, reason in PAUSE:
                day = start.date() + timedelta(days=day_number)
                at = _local(customer, day, local_time)
                toggles.append(Toggle(at, organization, owner, capabilities[-1], enabled, reason))
    return sorted(toggles, key=lambda toggle: toggle.at)


def _switched_on(
    toggles: list[Toggle], organization: Organization, capability: Capability
) -> Callable[[datetime], bool]:
    changes = [
        (t.at, t.enabled)
        for t in toggles
        if t.organization == organization and t.capability.key == capability.key
    ]

    def on_at(moment: datetime) -> bool:
        state = False
        for at, enabled in changes:
            if at <= moment:
                state = enabled
        return state

    return on_at


def _walk(
    timeline: Timeline,
    report: Report,
    cast: portal_demo.Cast,
    capabilities: list[Capability],
    toggles: list[Toggle],
    start: datetime,
    *,
    stripe: bool,
) -> None:
    """Day by day from `start` to the present."""
    with_history = set(ToggleChange.objects.values_list("organization_id", flat=True).distinct())
    content_day = real_now().date() - timedelta(days=1)
    caught_up = start - timedelta(days=1)
    day = start.date()
    while day <= real_now().date():
        if stripe and day.day == 1:
            # Stripe draws up the invoices of the month that ended (the
            # emulator does when its clock passes the period's end).
            timeline.move_to(min(datetime.combine(day, time(1, 0), UTC), real_now()))
            webhooks.catch_up(caught_up - timedelta(minutes=5))
            caught_up = timeline.now()
        for toggle in (toggle for toggle in toggles if toggle.at.date() == day):
            if toggle.organization.pk in with_history:
                continue  # an earlier, interrupted run switched it already
            timeline.move_to(toggle.at)
            set_capability_enabled(
                toggle.actor,
                toggle.organization,
                toggle.capability.key,
                enabled=toggle.enabled,
                reason=toggle.reason,
                include_related=True,
            )
        if day == content_day:
            _add_content(timeline, report, cast, capabilities, day)
        today = day == real_now().date()
        end = real_now() if today else datetime.combine(day, END_OF_DAY, UTC)
        timeline.move_to(end)
        # Only closed windows on the last day: Stripe then holds every hour of
        # the period's usage so far, and its preview equals our estimate.
        before = hour_of(end - push.close_delay()) if today else end
        records = [
            record
            for customer in CUSTOMERS
            for capability in capabilities
            for record in day_of_usage(
                customer.usage,
                cast.organizations[customer.usage.slug].pk,
                capability,
                day,
                months_in=(day - start.date()).days / 30,
                switched_on=_switched_on(toggles, cast.organizations[customer.usage.slug], capability),
                before=before,
            )
        ]
        report.events += ledger.ingest(records)
        if stripe:
            # As beat would, on the portal's clock (the timeline's).
            sync.sync_all()
            push.plan()
            report.pushes += push.send().sent
            if day + timedelta(days=1) == billing_period(real_now()).start.date():
                _decline_cards(timeline, cast)
            webhooks.catch_up(caught_up - timedelta(minutes=5))
            caught_up = end
        day += timedelta(days=1)
    # The finance dashboard's platform-wide days, as beat keeps them (it only
    # looks back to the start of last month).
    platform.refresh_days(
        start.date() + timedelta(days=n) for n in range((real_now().date() - start.date()).days)
    )


def _decline_cards(timeline: Timeline, cast: portal_demo.Cast) -> None:
    """Before the last period closes: the cards that will be declined."""
    assert timeline.emulator is not None
    for customer in CUSTOMERS:
        if customer.declined_at_last_close:
            organization = cast.organizations[customer.usage.slug]
            account = sync.ensure_customer(organization)
            timeline.emulator.decline_payments(account.stripe_customer_id)


def _add_content(
    timeline: Timeline,
    report: Report,
    cast: portal_demo.Cast,
    capabilities: list[Capability],
    day: date,
) -> None:
    for customer in CUSTOMERS:
        if not customer.content:
            continue
        organization = cast.organizations[customer.usage.slug]
        timeline.move_to(_local(customer, day, time(10, 30)))
        for capability in registry().apps():
            for line in capability.demo_content(organization, cast.people[customer.owner]):
                report.content.append(f"{capability.title}: {line}")


def _describe_stripe(report: Report, cast: portal_demo.Cast) -> None:
    invoices = []
    for customer in CUSTOMERS:
        organization = cast.organizations[customer.usage.slug]
        for invoice in Invoice.objects.filter(organization=organization).order_by("period_start"):
            total = money(Decimal(invoice.total) / 100, invoice.currency)
            invoices.append(f"{organization.slug} {invoice.period_start:%B} {total} {invoice.status}")
    failed = BillingAccount.objects.filter(payment_status=BillingAccount.Payment.FAILED).select_related(
        "organization"
    )
    failures = f"; payment failed for {', '.join(a.organization.slug for a in failed)}" if failed else ""
    listed = "; ".join(invoices) or "none"
    report.say(f"Stripe (the emulator): {report.pushes:,} usage pushes sent; invoices: {listed}{failures}.")


def _reconcile_last_period(report: Report, cast: portal_demo.Cast, present: datetime) -> None:
    """Finance reconciles the period that closed last, as from the finance page."""
    last_period = billing_period(billing_period(present).start - timedelta(days=1))
    run = actions.start_reconciliation(cast.people["fiona"], last_period.start, schedule=False)
    run = reconcile.run(run.pk)
    counts = dict(run.lines.values_list("status").annotate(count=Count("id")).values_list("status", "count"))
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "no lines"
    state = "done" if run.status == ReconciliationRun.Status.DONE else f"{run.status}: {run.error}"
    report.say(f"Reconciliation #{run.pk} of {last_period.start:%B %Y} ({state}): {summary}.")


def _set_budgets(report: Report, cast: portal_demo.Cast) -> None:
    """Budgets as customers set them: Acme's monthly total a quarter above what
    its month is heading for (so its 50 % and 80 % alerts have gone, or soon
    will), an alert-only budget on its busiest capability, and a platform cap
    finance set on Globex while it is on trial."""
    acme, globex = cast.organizations["acme"], cast.organizations["globex"]
    alice, fiona = cast.people["alice"], cast.people["fiona"]
    projected = projection(organization_rollups(acme), real_now())
    heading = sum(projected.projected.values(), Decimal(0))
    total = max(Decimal("10.00"), (heading * Decimal("1.25")).quantize(Decimal("1")))
    metering_actions.save_budget(alice, acme, capability=None, amount=total)
    busiest = max(projected.lines, key=lambda line: line.amount, default=None)
    if busiest is not None:
        metering_actions.save_budget(
            alice,
            acme,
            capability=busiest.capability,
            amount=max(Decimal("5.00"), (busiest.amount * 2).quantize(Decimal("1"))),
            action=Budget.Action.ALERT,
            thresholds=[80, 100],
        )
    metering_actions.save_budget(
        fiona,
        globex,
        capability=None,
        amount=Decimal("250.00"),
        platform=True,
        reason="Trial account: capped at $250 a month until the contract is signed.",
    )
    report.say(
        f"Budgets: Acme Corp's monthly total {money(total, budgets.currency())} (stops new work), "
        "an alert-only budget on its busiest capability, and a platform cap of $250.00 on Globex."
    )


def _ask_for_one(report: Report, cast: portal_demo.Cast) -> None:
    """Bob, a member of Acme, asks for a capability Acme has off: the owners'
    badge and the requests page show a pending request to decide on."""
    acme = cast.organizations["acme"]
    on = set(
        FeatureToggle.objects.filter(organization=acme, enabled=True).values_list("capability_key", flat=True)
    )
    off = [c for c in registry() if not c.external and c.key not in on]
    if not off:
        return
    capability = off[0]
    try:
        request_capability(
            cast.people["bob"],
            acme,
            capability.key,
            reason=f"Our team would use {capability.title} every week: could we try it this month?",
        )
    except ActionError as refusal:  # asked on an earlier run, or not askable now
        if refusal.code != "already_requested":
            report.say(f"Requests: Bob's request for {capability.title} was not made: {refusal.message}")
        return
    report.say(f"Requests: Bob asked Acme Corp's owners for {capability.title}; it waits on /requests/.")


def _try_a_beta(report: Report, cast: portal_demo.Cast) -> None:
    """Globex tries Documents' beta (its better field finder): the capability
    page shows both versions to each organization, Globex's on the beta."""
    if "documents" not in registry() or not registry().get("documents").has_beta:
        return
    globex, gina = cast.organizations["globex"], cast.people["gina"]
    releases.set_channel(gina, globex, "documents", BETA)
    documents = registry().get("documents")
    version = documents.latest(BETA).number
    report.say(f"Versions: Globex runs Documents {version} (beta); Acme Corp stays on stable.")
    # Globex reads the sample documents on the beta: their pages are billed on
    # the beta's own meter, at its own price (a line of its own on /usage/).
    if isinstance(documents, CapabilityConfig) and is_enabled(globex, "documents"):
        for line in documents.demo_content(globex, gina):
            report.say(f"Documents {version} (beta), Globex: {line}")


def _schedule_switch(report: Report, cast: portal_demo.Cast) -> None:
    """A switch Acme scheduled: its last capability of the history (on) off at
    the end of this billing period, so the catalog card and the capability page
    show a pending one."""
    acme, alice = cast.organizations["acme"], cast.people["alice"]
    on = FeatureToggle.objects.filter(organization=acme, enabled=True, locked=False)
    last = [c for c in registry() if c.demo_usage and on.filter(capability_key=c.key).exists()]
    if not last:
        return
    capability = last[-1]
    schedule_switch(
        alice,
        acme,
        capability.key,
        enabled=False,
        end_of_period=True,
        include_related=True,
        reason="Only needed until the month closes; back on when the next project starts",
    )
    report.say(f"Scheduled: Acme Corp's {capability.title} switches off at the end of this billing period.")
