"""State changes of notifications: rules (owners and admins), deliveries made
when a job finishes or on a test send, and each attempt's record.

Retries: every attempt is one `deliver` job through the capability runner. A
failed attempt is recorded, the next one is scheduled (a Celery countdown on
`cap.notifications`, see tasks.retry_delivery) and the job fails with the
reason, so nothing is billed for it. The attempt that delivers meters one
message in its own job, keyed `job:<id>:<meter>` by the runner; a delivery is
claimed attempt by attempt (`claim_attempt`), so two jobs can never both send
(and bill) the same attempt, and a delivered message is never sent again."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import JSONObject
from django.utils import timezone

from capabilities import is_enabled
from capabilities.actions import start_job, start_job_with_row
from capabilities.capability_settings import capability_setting
from capabilities.models import Job
from capabilities.notifications.models import Channel, Delivery, Rule
from capabilities.notifications.targets import clean_target
from capabilities.registry import registry
from portal.actions.errors import ActionError
from portal.audit import Origin, audit_entry, record_audit
from portal.db import fetch_prepared, instance_from_row, model_columns
from portal.models import AuditEntry, Organization, User
from portal.outbound import Outcome
from portal.webhooks import new_secret

logger = logging.getLogger(__name__)

KEY = "notifications"
MAX_RULES = 100
MAX_WITHIN_DAYS = 365


def max_attempts() -> int:
    return len(capability_setting("notifications", "RETRY_DELAYS")) + 1


def _check_within_days(event: str, within_days: int | None) -> int | None:
    """How near a deadline must be (deadline rules only; other rules have none)."""
    if event != Rule.Event.DEADLINE_NEAR:
        return None
    if within_days is None or isinstance(within_days, bool) or not 1 <= within_days <= MAX_WITHIN_DAYS:
        raise ActionError(
            "Say how many days before a notice deadline to notify: "
            f"a whole number from 1 to {MAX_WITHIN_DAYS}.",
            "invalid_within_days",
        )
    return within_days


def _check_rule(capability: str, event: str, channel: str, target: str) -> str:
    if capability == KEY or capability not in {app.key for app in registry().apps()}:
        raise ActionError(
            "Choose one of the capabilities built into the portal (not Notifications itself): "
            "they run the jobs a rule watches.",
            "invalid",
        )
    if event not in Rule.Event.values:
        raise ActionError("Choose when to notify: succeeds, fails, both, or a deadline is near.", "invalid")
    if channel not in Channel.values:
        raise ActionError("Choose email or webhook.", "invalid")
    from django.core.exceptions import ValidationError

    try:
        return clean_target(channel, target)
    except ValidationError as error:
        raise ActionError(" ".join(error.messages), "invalid_target") from None


def create_rule(
    actor: User,
    organization: Organization,
    *,
    capability: str,
    event: str,
    channel: str,
    target: str,
    within_days: int | None = None,
    origin: Origin | None = None,
) -> Rule:
    target = _check_rule(capability, event, channel, target)
    within_days = _check_within_days(event, within_days)
    with transaction.atomic(durable=True):
        if Rule.objects.filter(organization=organization).count() >= MAX_RULES:
            raise ActionError(f"An organization can have at most {MAX_RULES} rules.", "too_many_rules")
        rule = Rule.objects.create(
            organization=organization,
            capability=capability,
            event=event,
            channel=channel,
            target=target,
            within_days=within_days,
            secret=new_secret() if channel == Channel.WEBHOOK else "",
            created_by=actor if actor.pk else None,
        )
        record_audit(
            actor,
            "notifications.rule_created",
            organization=organization,
            target=rule,
            origin=origin,
            details={
                "capability": capability,
                "event": event,
                "channel": channel,
                "within_days": within_days,
            },
        )
    return rule


def update_rule(
    actor: User,
    rule: Rule,
    *,
    capability: str,
    event: str,
    channel: str,
    target: str,
    within_days: int | None = None,
    origin: Origin | None = None,
) -> Rule:
    target = _check_rule(capability, event, channel, target)
    within_days = _check_within_days(event, within_days)
    with transaction.atomic(durable=True):
        rule.capability, rule.event, rule.target = capability, event, target
        rule.within_days = within_days
        if channel != rule.channel:
            rule.channel = channel
            rule.secret = new_secret() if channel == Channel.WEBHOOK else ""
        rule.save()
        record_audit(
            actor,
            "notifications.rule_changed",
            organization=rule.organization,
            target=rule,
            origin=origin,
            details={
                "capability": capability,
                "event": event,
                "channel": channel,
                "within_days": within_days,
            },
        )
    return rule


def delete_rule(actor: User, rule: Rule, *, origin: Origin | None = None) -> None:
    """Delete a rule; its deliveries stay (with their attempts) and pending
    retries stop (the next attempt finds no rule)."""
    with transaction.atomic(durable=True):
        record_audit(
            actor,
            "notifications.rule_deleted",
            organization=rule.organization,
            target=rule,
            origin=origin,
            details={"capability": rule.capability, "channel": rule.channel},
        )
        rule.delete()


def _job_payload(organization: Organization, job: Job, *, test: bool) -> dict[str, Any]:
    capability = registry().get(job.capability) if job.capability in registry() else None
    return {
        "event": f"job.{job.status}",
        "test": test,
        "organization": organization.slug,
        "capability": {"key": job.capability, "name": capability.title if capability else job.capability},
        "job": {
            "id": job.pk,
            "kind": job.kind,
            "status": job.status,
            "error": job.error,
            "queued_at": job.queued_at.isoformat() if job.queued_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        },
    }


def _test_payload(organization: Organization, rule: Rule) -> dict[str, Any]:
    capability = registry().get(rule.capability) if rule.capability in registry() else None
    return {
        "event": "test",
        "test": True,
        "organization": organization.slug,
        "capability": {"key": rule.capability, "name": capability.title if capability else rule.capability},
        "job": None,
    }


def _queue_delivery(actor: User | None, delivery: Delivery, *, audit: AuditEntry | None = None) -> Delivery:
    """Write `delivery` (unsaved) and queue its first attempt, a `deliver`
    job, with the action's audit entry: one statement, committed on its own.
    Without an actor the delivery follows a rule, after another job finished.
    Raises IntegrityError (nothing written) when the rule already made this
    delivery, ActionError when the job may not start."""
    start_job_with_row(
        actor,
        delivery.organization,
        KEY,
        kind="deliver",
        row=delivery,
        id_key="delivery",
        job_input={"attempt": 1},
        source=None if actor is not None else Job.Source.AUTOMATIC,
        audit=audit,
    )
    return delivery


def send_test(actor: User, rule: Rule, *, origin: Origin | None = None) -> Delivery:
    """Send a test message over the rule's channel now. It is a real message:
    delivered, it counts (and is billed) like any other."""
    organization = rule.organization
    delivery = Delivery(
        organization=organization,
        rule=rule,
        channel=rule.channel,
        target=rule.target,
        event="test",
        payload=_test_payload(organization, rule),
    )
    audit = audit_entry(
        actor, "notifications.test_sent", organization=organization, target=rule, origin=origin
    )
    return _queue_delivery(actor, delivery, audit=audit)


def notify_job_finished(*, job_id: int, organization_id: int, capability: str, status: str) -> list[Delivery]:
    """A job of `capability` ended with `status`: one delivery per matching rule
    of its organization, each with its first attempt queued. Nothing while
    notifications are off for the organization."""
    if capability == KEY:
        return []  # our own jobs never notify: no loops
    # The in-process toggle snapshot first: every job of an organization without
    # notifications finishes without a query here.
    if not is_enabled(organization_id, KEY):
        return []
    rules = list(
        Rule.objects.filter(organization_id=organization_id, capability=capability).filter(
            Q(event=status) | Q(event=Rule.Event.BOTH)
        )
    )
    if not rules:
        return []
    job = Job.objects.select_related("organization").get(pk=job_id)
    organization = job.organization
    payload = _job_payload(organization, job, test=False)
    made = []
    for rule in rules:
        try:
            delivery = _queue_delivery(
                None,
                Delivery(
                    organization=organization,
                    rule=rule,
                    channel=rule.channel,
                    target=rule.target,
                    event=payload["event"],
                    payload=payload,
                    source_job=job,
                ),
            )
        except IntegrityError:
            continue  # this rule already notified about this job
        except ActionError as refusal:
            logger.info("No notification for job %s (rule %s): %s", job_id, rule.pk, refusal.message)
            continue
        made.append(delivery)
    return made


def notify_contract_deadline(
    *,
    organization_id: int,
    capability: str,
    contract_id: int,
    document_name: str,
    notice_deadline: date,
    days_left: int,
    url: str,
) -> list[Delivery]:
    """A contract's notice deadline is `days_left` days away: one delivery per
    deadline rule of the organization watching `capability` whose N is at
    least `days_left`, once per rule, contract and deadline (the signal comes
    daily while the deadline is near)."""
    if not is_enabled(organization_id, KEY):
        return []
    rules = list(
        Rule.objects.filter(
            organization_id=organization_id,
            capability=capability,
            event=Rule.Event.DEADLINE_NEAR,
            within_days__gte=days_left,
        )
    )
    if not rules:
        return []
    organization = Organization.objects.get(pk=organization_id)
    title = registry().get(capability).title if capability in registry() else capability
    event = "contract.deadline_near"
    payload: dict[str, Any] = {
        "event": event,
        "test": False,
        "organization": organization.slug,
        "capability": {"key": capability, "name": title},
        "job": None,
        "contract": {
            "id": contract_id,
            "document_name": document_name,
            "notice_deadline": notice_deadline.isoformat(),
            "days_left": days_left,
            "url": url,
        },
    }
    made = []
    for rule in rules:
        try:
            delivery = _queue_delivery(
                None,
                Delivery(
                    organization=organization,
                    rule=rule,
                    channel=rule.channel,
                    target=rule.target,
                    event=event,
                    payload=payload,
                    subject_key=f"contract:{contract_id}:{notice_deadline.isoformat()}",
                ),
            )
        except IntegrityError:
            continue  # this rule already told about this contract's deadline
        except ActionError as refusal:
            logger.info(
                "No deadline notification for contract %s (rule %s): %s",
                contract_id,
                rule.pk,
                refusal.message,
            )
            continue
        made.append(delivery)
    return made


@dataclass(frozen=True)
class Claim:
    delivery: Delivery
    # The secret of the delivery's rule (None: the rule was deleted).
    secret: str | None = None
    # This job delivered it already (its outcome was lost, e.g. a worker died
    # before the runner recorded it): meter again, the usage key dedupes.
    already_delivered: bool = False


# Durability: the claim and the attempt's record commit without waiting for the
# WAL flush (`set_config('synchronous_commit', 'off', true)` in the statement).
# The runner's result transaction right after is synchronous and flushes the
# WAL up to it, these included; a crash before it loses at most the claim, and
# the job's message comes back to claim again.
#
# Each is one statement in its own transaction: every deliver job runs both, and
# a BEGIN, a SET LOCAL, a separate read and a COMMIT around them cost more round
# trips than the work. The claim's conditions are checked by its UPDATE under
# the row's lock, so two jobs racing for an attempt cannot both take it. Its
# SELECT reads the row as it was when the statement started (a data-modifying
# WITH is not visible to the rest of its statement): `claimed` says whether the
# UPDATE took it, and the caller applies the four columns it set. Prepared, as
# RECORD is: PostgreSQL took longer to plan it than to run it. Its columns are
# named, not `*`, so a column added while a worker runs cannot shift the row.
CLAIM = """
    WITH claimed AS (
        UPDATE notifications_delivery
        SET status = %s, attempt_count = %s, current_job_id = %s, next_attempt_at = NULL
        WHERE id = %s AND organization_id = %s AND status IN (%s, %s) AND attempt_count = %s
        RETURNING id, set_config('synchronous_commit', 'off', true)
    )
    SELECT {columns}, rule.secret, EXISTS (SELECT 1 FROM claimed)
    FROM notifications_delivery AS delivery
    LEFT JOIN notifications_rule AS rule ON rule.id = delivery.rule_id
    WHERE delivery.id = %s AND delivery.organization_id = %s
""".format(columns=model_columns(Delivery, "delivery"))  # noqa: S608  # the model's columns

RECORD = """
    WITH attempt AS (
        INSERT INTO notifications_attempt
            (delivery_id, number, job_id, at, duration_ms, status_code, succeeded, error)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    )
    UPDATE notifications_delivery
    SET status = %s, delivered_at = %s, next_attempt_at = %s, last_error = %s
    WHERE id = %s
    RETURNING set_config('synchronous_commit', 'off', true)
"""


def claim_attempt(organization_id: int, delivery_id: int, attempt: int, job_id: int) -> Claim | None:
    """Take attempt `attempt` of a delivery for job `job_id`, or None when it is
    not this job's to make (made by another job, delivered, given up)."""
    sending = Delivery.Status.SENDING.value
    waiting = [Delivery.Status.PENDING.value, Delivery.Status.RETRYING.value]
    params = [sending, attempt, job_id, delivery_id, organization_id, *waiting, attempt - 1]
    rows = fetch_prepared(CLAIM, [*params, delivery_id, organization_id])
    if not rows:
        return None
    *_, secret, claimed = rows[0]
    delivery = instance_from_row(Delivery, rows[0])  # the row's first columns are the delivery's
    if claimed:
        delivery.status = sending
        delivery.attempt_count = attempt
        delivery.current_job_id = job_id
        delivery.next_attempt_at = None
        return Claim(delivery, secret)
    # Not claimable: unless this very job claimed it before (its message came
    # back after a worker died), it is not this job's to make.
    if delivery.current_job_id == job_id and delivery.attempt_count == attempt:
        if delivery.status == Delivery.Status.DELIVERED:
            return Claim(delivery, secret, already_delivered=True)
        if delivery.status == Delivery.Status.SENDING:
            return Claim(delivery, secret)  # this job's message came back: try again
    return None


def record_attempt(delivery: Delivery, attempt: int, job_id: int, outcome: Outcome) -> Delivery:
    """Write the attempt and the delivery's new state (one statement); schedule
    the next attempt after commit when one is left and could help."""
    from capabilities.notifications.tasks import retry_delivery

    now = timezone.now()
    delays = capability_setting("notifications", "RETRY_DELAYS")
    delivery.last_error = outcome.error[:500]
    next_attempt, delay = 0, 0
    if outcome.delivered:
        delivery.status = Delivery.Status.DELIVERED
        delivery.delivered_at = now
    elif outcome.retryable and attempt < max_attempts():
        delay = delays[attempt - 1]
        delivery.status = Delivery.Status.RETRYING
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        next_attempt = attempt + 1
    else:
        delivery.status = Delivery.Status.FAILED
    # The attempt is claimed (status `sending`, this job) until this commits,
    # so no other row for it can exist.
    fetch_prepared(
        RECORD,
        [
            delivery.pk,
            attempt,
            job_id,
            now,
            outcome.duration_ms,
            outcome.status_code,
            outcome.delivered,
            outcome.error[:500],
            Delivery.Status(delivery.status).value,
            delivery.delivered_at,
            delivery.next_attempt_at,
            delivery.last_error,
            delivery.pk,
        ],
    )
    if next_attempt:
        transaction.on_commit(
            lambda: retry_delivery.apply_async(
                args=[delivery.pk, next_attempt], countdown=delay, queue=f"cap.{KEY}"
            )
        )
    return delivery


def give_up(delivery: Delivery, reason: str) -> None:
    """Stop a delivery for good (its rule was deleted, notifications were
    switched off, the organization suspended)."""
    Delivery.objects.filter(pk=delivery.pk).exclude(status__in=Delivery.FINAL).update(
        status=Delivery.Status.FAILED, last_error=reason[:500], next_attempt_at=None
    )


def start_attempt(delivery_id: int, attempt: int) -> Job | None:
    """Queue attempt `attempt` of a delivery that waits for it (what a retry's
    countdown ends in, or the sweep when that message was lost). The delivery's
    row is locked while it looks: a duplicated retry message, or the countdown
    and the sweep at the same moment, find the attempt's job queued and do
    nothing."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("organization")
            .filter(pk=delivery_id)
            .first()
        )
        if (
            delivery is None
            or delivery.status != Delivery.Status.RETRYING
            or delivery.attempt_count != attempt - 1
            or _attempt_queued(delivery, attempt)
        ):
            return None
        try:
            # Inside this transaction: the job's message leaves once it commits.
            return start_job(
                None,
                delivery.organization,
                KEY,
                kind="deliver",
                job_input={"delivery": delivery.pk, "attempt": attempt},
                source=Job.Source.AUTOMATIC,  # a retry, on its own schedule
            )
        except ActionError as refusal:
            give_up(delivery, f"Not retried: {refusal.message}")
            return None


def _attempt_queued(delivery: Delivery, attempt: int) -> bool:
    """Whether a deliver job for this attempt exists already (its claim, not
    this check, decides which job sends; the job sweep looks after its message)."""
    return _attempt_jobs(delivery.organization_id, {"delivery": delivery.pk, "attempt": attempt}).exists()


def _attempt_jobs(organization_id: Any, attempt: Any) -> QuerySet[Job]:
    """An organization's deliver jobs for one attempt: `attempt` is the job's
    input, `{"delivery": id, "attempt": n}`, or an expression building it."""
    return Job.objects.filter(
        organization_id=organization_id, capability=KEY, kind="deliver", input__contains=attempt
    )


# Overdue retries are looked at in batches this large (oldest first); the rest
# wait for the next sweep.
RETRY_SWEEP_BATCH = 500


def send_overdue_retries(now: datetime | None = None) -> int:
    """Queue the next attempt of every delivery whose retry is overdue: its
    countdown message should have ended `JOB_REQUEUE_GRACE` seconds ago and no
    job for the attempt exists (the message was lost with Redis's data, or with
    a worker killed while it held it). Beat runs it every `JOB_SWEEP_INTERVAL`.
    Returns how many attempts it queued."""
    moment = now or timezone.now()
    next_attempt = JSONObject(delivery=OuterRef("pk"), attempt=OuterRef("attempt_count") + 1)
    overdue = (
        Delivery.objects.filter(
            status=Delivery.Status.RETRYING,
            next_attempt_at__lte=moment - timedelta(seconds=settings.JOB_REQUEUE_GRACE),
        )
        # An attempt already queued (waiting while its capability is held, say)
        # takes no place in the batch: it would fill every batch in turn.
        .exclude(Exists(_attempt_jobs(OuterRef("organization_id"), next_attempt)))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "attempt_count")[:RETRY_SWEEP_BATCH]
    )
    queued = 0
    for delivery_id, attempts_made in overdue:
        if start_attempt(delivery_id, attempts_made + 1) is not None:
            logger.warning(
                "The retry of delivery %s (attempt %s) was overdue; queued it again",
                delivery_id,
                attempts_made + 1,
            )
            queued += 1
    return queued
