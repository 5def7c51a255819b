"""Usage reported as CloudEvents 1.0 (`POST /api/v1/events`): each event is
checked (who may report it, its meter, quantity, time window, the toggle and
the budgets), and the ones that pass are recorded in the ledger exactly once by
their (`source`, `id`).

Exactly once: an event's ledger idempotency key is derived from its source and
id (`idempotency_key`), and the ledger's keys are unique forever. The insert
that records the usage is the duplicate check, in the same transaction as the
rollups: a batch whose commit failed left nothing behind, so resending it
records every event once; an event already recorded is never counted again.
There is no "claim the id, then write" step that could lose an event.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, transaction

from capabilities.gate import budget_refusal, budget_stop, is_enabled
from capabilities.registry import API_CALLS, COMPUTE_SECONDS, registry
from metering import budgets, ledger
from portal.models import Organization

logger = logging.getLogger(__name__)

SPECVERSION = "1.0"
MAX_BATCH = 1000
# Stripe takes meter events up to 35 days old and 5 minutes ahead; billing's
# push carries an hour of usage while the hour is under 35 days less 2 hours
# old (billing.push.STRIPE_HORIZON). Usage is taken up to 34 days old, so every
# accepted event reaches Stripe with a push (an hour and more to spare),
# never only through reconciliation; older usage is refused where it enters.
OLDEST = timedelta(days=34)
NEWEST = timedelta(minutes=5)
# The ledger's key column holds 200 characters: "ce:" + 64 hex digits + ":" + id.
MAX_ID = 128
MAX_SOURCE = 1024
# One event's quantity; beyond it is a unit mistake, not usage.
MAX_QUANTITY = 1_000_000_000
# Meters the platform records itself: a service reporting them would double them.
PLATFORM_METERS = frozenset({API_CALLS, COMPUTE_SECONDS})


class Status:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


class Reason:
    MALFORMED = "malformed"
    FOREIGN_ORGANIZATION = "foreign_organization"
    UNKNOWN_METER = "unknown_meter"
    BAD_QUANTITY = "bad_quantity"
    OUTSIDE_WINDOW = "outside_window"
    CAPABILITY_DISABLED = "capability_disabled"
    BUDGET_EXHAUSTED = "budget_exhausted"


@dataclass(frozen=True)
class Reporter:
    """Who reports usage. An organization API key reports for its own
    organization, any capability (`capability` None). A service credential of
    an external capability is a Reporter with no organization (it reports for
    the organizations that use it, named by `subject`) and its own capability
    only."""

    organization: Organization | None
    capability: str | None = None
    label: str = ""


def may_report(reporter: Reporter, organization: Organization, capability: str) -> bool:
    """The one rule: may `reporter` report usage of `capability` for
    `organization`? An organization's key: its own organization only; a
    capability's credential: its own capability only."""
    if not organization.is_active:
        return False
    if reporter.organization is not None and reporter.organization.pk != organization.pk:
        return False
    return reporter.capability is None or reporter.capability == capability


@dataclass
class Outcome:
    """The answer for one event of a request."""

    id: str | None
    source: str | None
    status: str
    reason: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"id": self.id, "source": self.source, "status": self.status}
        if self.status == Status.REFUSED:
            answer["reason"] = self.reason
            answer["detail"] = self.detail
        return answer


class Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def idempotency_key(source: str, event_id: str) -> str:
    """The ledger key of the event (`source`, `event_id`): the source hashed,
    since it may be longer than the key column."""
    return f"ce:{hashlib.sha256(source.encode()).hexdigest()}:{event_id}"


def record(reporter: Reporter, events: Sequence[object], received_at: datetime) -> list[Outcome]:
    """Check every event and record those that pass, in one durable
    transaction (so they are committed even when others are refused). Returns
    one outcome per event, in order. A database error propagates: nothing of
    the batch was committed, and resending it records each event once."""
    outcomes: list[Outcome] = []
    records: list[ledger.UsageRecord | None] = []
    checks = _Checks(reporter, received_at)
    for event in events:
        event_id, source = _identity(event)
        try:
            usage = _usage_record(event, checks)
        except Refused as refusal:
            outcomes.append(Outcome(event_id, source, Status.REFUSED, refusal.reason, refusal.detail))
            records.append(None)
            continue
        outcomes.append(Outcome(event_id, source, Status.ACCEPTED))
        records.append(usage)
    wanted = [usage for usage in records if usage is not None]
    new_keys: set[str] = set()
    if wanted:
        with transaction.atomic(durable=True):
            new_keys = ledger.append_batch(wanted)
        charged = {usage.organization_id for usage in wanted if usage.idempotency_key in new_keys}
        for organization_id in sorted(charged):
            # Budgets count this usage at once (a stop takes effect for the
            # next request), not at the next minute's recompute. The usage is
            # committed: a failure here is logged, not answered as "not recorded".
            try:
                budgets.recompute(organization_id)
            except DatabaseError:
                logger.warning("Budgets of organization %s not recomputed", organization_id, exc_info=True)
    counted: set[str] = set()
    for outcome, maybe in zip(outcomes, records, strict=True):
        if maybe is None:
            continue
        if maybe.idempotency_key in new_keys and maybe.idempotency_key not in counted:
            counted.add(maybe.idempotency_key)
        else:
            outcome.status = Status.DUPLICATE
    _answer_recorded_refusals(outcomes, events)
    return outcomes


def _answer_recorded_refusals(outcomes: list[Outcome], events: Sequence[object]) -> None:
    """An event refused now (its capability switched off since, its budget
    reached, its time now outside the window) whose (source, id) is already
    in the ledger was recorded by an earlier attempt: it answers duplicate, so
    a retrying client knows it counted."""
    keys = {}
    for outcome in outcomes:
        if outcome.status == Status.REFUSED and outcome.reason != Reason.MALFORMED and outcome.id is not None:
            assert outcome.source is not None
            keys[idempotency_key(outcome.source, outcome.id)] = outcome
    if not keys:
        return
    for key in ledger.recorded_keys(list(keys)):
        outcome = keys[key]
        outcome.status, outcome.reason, outcome.detail = Status.DUPLICATE, None, None


def _identity(event: object) -> tuple[str | None, str | None]:
    """The event's id and source as given, when they are strings."""
    if not isinstance(event, dict):
        return None, None
    event_id, source = event.get("id"), event.get("source")
    return (
        event_id if isinstance(event_id, str) else None,
        source if isinstance(source, str) else None,
    )


@dataclass
class _Checks:
    """What a batch asks again and again, answered once per batch: the events
    of a batch mostly share their organization, type and source."""

    reporter: Reporter
    received_at: datetime
    organizations: dict[str | None, Organization | None] = field(default_factory=dict)
    routes: dict[tuple[str | None, str], tuple[Organization, str, str] | Refused] = field(
        default_factory=dict
    )
    gates: dict[tuple[int, str], Refused | None] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def route(self, subject: str | None, event_type: str) -> tuple[Organization, str, str]:
        """The organization, capability and meter of an event, or Refused."""
        found = self.routes.get((subject, event_type))
        if found is None:
            try:
                found = self._route(subject, event_type)
            except Refused as refusal:
                found = refusal
            self.routes[(subject, event_type)] = found
        if isinstance(found, Refused):
            raise found
        return found

    def _route(self, subject: str | None, event_type: str) -> tuple[Organization, str, str]:
        if subject not in self.organizations:
            self.organizations[subject] = _organization(self.reporter, subject)
        organization = self.organizations[subject]
        capability_key, _, meter = event_type.partition(".")
        if organization is None or (
            capability_key in registry() and not may_report(self.reporter, organization, capability_key)
        ):
            # Not echoing the subject: whether an organization exists is not the caller's business.
            raise Refused(
                Reason.FOREIGN_ORGANIZATION,
                'This credential may not report usage for the organization named in "subject"'
                + (f" for {capability_key!r}." if organization is not None else "."),
            )
        _check_meter(capability_key, meter)
        return organization, capability_key, meter

    def gate(self, organization: Organization, capability_key: str) -> None:
        """Refused while the capability is off or a reached stop budget covers it."""
        key = (organization.pk, capability_key)
        if key not in self.gates:
            self.gates[key] = _gate(organization, capability_key)
        refusal = self.gates[key]
        if refusal is not None:
            raise refusal

    def key(self, source: str, event_id: str) -> str:
        digest = self.sources.get(source)
        if digest is None:
            digest = self.sources[source] = hashlib.sha256(source.encode()).hexdigest()
        return f"ce:{digest}:{event_id}"


def _gate(organization: Organization, capability_key: str) -> Refused | None:
    capability = registry().get(capability_key)
    if not is_enabled(organization, capability_key):
        return Refused(
            Reason.CAPABILITY_DISABLED,
            f"{capability.title} is switched off for {organization.name}; usage is not recorded.",
        )
    stop = budget_stop(organization, capability_key)
    if stop is not None:
        return Refused(Reason.BUDGET_EXHAUSTED, budget_refusal(stop, capability.title))
    return None


def _usage_record(event: object, checks: _Checks) -> ledger.UsageRecord:
    """The ledger record of `event`, or Refused saying why not."""
    if not isinstance(event, dict):
        raise Refused(Reason.MALFORMED, "An event is a JSON object.")
    if event.get("specversion") != SPECVERSION:
        raise Refused(Reason.MALFORMED, 'Only CloudEvents 1.0 are taken: "specversion" must be "1.0".')
    event_id = _text(event, "id", MAX_ID)
    source = _text(event, "source", MAX_SOURCE)
    event_type = _text(event, "type", 200)
    subject = event.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise Refused(Reason.MALFORMED, '"subject" must be the organization\'s slug (a string).')
    datacontenttype = event.get("datacontenttype")
    if (
        datacontenttype is not None
        and datacontenttype != "application/json"
        and (
            not isinstance(datacontenttype, str)
            or datacontenttype.split(";")[0].strip() != "application/json"
        )
    ):
        raise Refused(Reason.MALFORMED, '"datacontenttype" must be application/json (or left out).')
    organization, capability_key, meter = checks.route(subject, event_type)
    quantity = _quantity(event.get("data"))
    occurred_at = _time(event.get("time"), checks.received_at)
    checks.gate(organization, capability_key)
    return ledger.UsageRecord(
        organization_id=organization.pk,
        capability=capability_key,
        meter=meter,
        quantity=quantity,
        occurred_at=occurred_at,
        idempotency_key=checks.key(source, event_id),
        properties={"cloudevent": {"source": source, "id": event_id}},
    )


def _text(event: dict[str, Any], name: str, longest: int) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise Refused(Reason.MALFORMED, f'"{name}" is required: a non-empty string.')
    if len(value) > longest:
        raise Refused(Reason.MALFORMED, f'"{name}" is longer than {longest} characters.')
    if "\x00" in value:
        raise Refused(Reason.MALFORMED, f'"{name}" holds a NUL character.')
    return value


def _organization(reporter: Reporter, subject: str | None) -> Organization | None:
    """The organization an event is reported for: `subject` is its slug; an
    organization's key may leave it out (its own)."""
    if reporter.organization is not None:
        return reporter.organization if subject in (None, reporter.organization.slug) else None
    if subject is None:
        return None
    return Organization.objects.filter(slug=subject).first()


def _check_meter(capability_key: str, meter: str) -> None:
    if capability_key not in registry():
        raise Refused(
            Reason.UNKNOWN_METER,
            f'No capability {capability_key!r} is installed; "type" is <capability>.<meter>.',
        )
    capability = registry().get(capability_key)
    declared = [declared.key for declared in capability.meters]
    if meter in PLATFORM_METERS:
        raise Refused(
            Reason.UNKNOWN_METER, f"{meter} of {capability.title} is counted by the platform itself."
        )
    if meter not in declared:
        raise Refused(
            Reason.UNKNOWN_METER,
            f"{capability.title} has no meter {meter!r}; its meters: {', '.join(declared) or 'none'}.",
        )


def _quantity(data: object) -> int:
    if not isinstance(data, dict) or "quantity" not in data:
        raise Refused(Reason.BAD_QUANTITY, '"data" must be a JSON object with "quantity".')
    quantity = data["quantity"]
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise Refused(Reason.BAD_QUANTITY, '"quantity" must be a whole number of units, such as 12.')
    if quantity < 1:
        raise Refused(
            Reason.BAD_QUANTITY,
            '"quantity" must be at least 1; corrections of recorded usage are made by platform finance.',
        )
    if quantity > MAX_QUANTITY:
        raise Refused(Reason.BAD_QUANTITY, f'"quantity" must be at most {MAX_QUANTITY:,} in one event.')
    return quantity


def _time(value: object, received_at: datetime) -> datetime:
    """When the usage happened: `time` (RFC 3339, with its offset), or when it
    was received; refused outside Stripe's window."""
    if value is None:
        return received_at
    if not isinstance(value, str):
        raise Refused(Reason.MALFORMED, '"time" must be an RFC 3339 timestamp, such as 2026-12-05T09:30:00Z.')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(
            Reason.MALFORMED, '"time" must be an RFC 3339 timestamp, such as 2026-12-05T09:30:00Z.'
        ) from None
    if moment.tzinfo is None:
        raise Refused(Reason.MALFORMED, '"time" needs its UTC offset (Z or +hh:mm).')
    if moment < received_at - OLDEST or moment > received_at + NEWEST:
        raise Refused(
            Reason.OUTSIDE_WINDOW,
            f"Usage is taken from 34 days ago up to 5 minutes ahead of now; {value} is outside that window.",
        )
    return moment


def parse_body(body: bytes) -> object:
    """The JSON of a request body; ValueError with a message a person reads."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise ValueError("The body is not UTF-8 text.") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"The body is not valid JSON: {error.msg} at line {error.lineno}.") from None
