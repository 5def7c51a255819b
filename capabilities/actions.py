"""State changes of capability toggles and jobs. One function changes toggles:
it keeps the dependency rule (no enabled capability without its enabled
dependencies), writes the rows, their history and the audit log in one
transaction, and after commit announces the change to every process and to
billing. Jobs are started, published and cancelled here too; the outbox sweep
that sends lost ones again is `capabilities.sweep`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from capabilities.gate import BudgetStop, budget_refusal, budget_stop, bump_version
from capabilities.models import FeatureToggle, Job, ToggleChange
from capabilities.registry import registry
from capabilities.signals import capability_toggled
from metering import anomalies
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.db import fetch_prepared, insert_values, saved
from portal.models import MANAGING_ROLES, AuditEntry, Organization, Role, User

logger = logging.getLogger(__name__)


class CapabilityLocked(ActionError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "capability_locked")


class ApprovalRequired(ActionError):
    """The switch-on needs a second person's approval (capabilities.approvals.policy):
    the person asks for it instead (a request)."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message, "approval_required")
        self.why = why


class DependencyConflict(ActionError):
    """The change needs other capabilities switched too; `others` lists them."""

    def __init__(self, message: str, code: str, others: list[str]) -> None:
        super().__init__(message, code)
        self.others = others


@dataclass(frozen=True)
class ToggleResult:
    changed: dict[str, bool]  # capability key -> new state, for every toggle that changed


def may_manage(actor: User, organization: Organization) -> bool:
    """Owners and admins of the organization, and IT admins for any: who may
    schedule a capability's switch or choose its channel."""
    if actor.is_staff:
        return True
    return organization.memberships.filter(user=actor, role__in=MANAGING_ROLES).exists()


def _titles(keys: Iterable[str]) -> str:
    return ", ".join(registry().get(key).title for key in keys)


def plan_change(organization: Organization, key: str, enabled: bool) -> list[str]:
    """The other capabilities that must switch with `key` to keep the dependency
    rule: the missing requirements when switching on, the enabled dependents
    when switching off."""
    current = {
        toggle.capability_key: toggle.enabled
        for toggle in FeatureToggle.objects.filter(organization=organization)
    }
    if enabled:
        return [dep for dep in registry().requirements(key) if not current.get(dep, False)]
    return [other for other in registry().dependents(key) if current.get(other, False)]


def set_capability_enabled(
    actor: User,
    organization: Organization,
    key: str,
    *,
    enabled: bool,
    reason: str = "",
    include_related: bool = False,
    origin: Origin | None = None,
) -> ToggleResult:
    """Switch `key` on or off for `organization` as the organization does.

    When the dependency rule needs other capabilities switched too, this
    refuses with DependencyConflict unless `include_related` is set, in which
    case they switch in the same transaction. Locked toggles refuse. A
    switch-on that the organization's approval policy holds for a second
    person refuses with ApprovalRequired (capabilities.approvals)."""
    if enabled:
        _check_approval(organization, key)
    return _apply(
        actor,
        organization,
        key,
        enabled=enabled,
        reason=reason,
        include_related=include_related,
        origin=origin,
        force=False,
        lock=None,
    )


def _check_approval(organization: Organization, key: str) -> None:
    from capabilities.approvals.policy import approval_needed, policy_of

    policy = policy_of(organization)
    if policy is None:  # the common case: one query, no estimate
        return
    needed = approval_needed(organization, key, [key, *plan_change(organization, key, True)], policy=policy)
    if needed is not None:
        raise ApprovalRequired(needed.message, needed.why)


def apply_approved_switch(
    actor: User, organization: Organization, key: str, *, enabled: bool, reason: str, origin: Origin | None
) -> ToggleResult:
    """Carry out a switch another person approved (capabilities.approvals):
    the rules of `set_capability_enabled` (dependencies switch along, locks
    refuse) without the approval rule, inside the caller's transaction, which
    holds the request's row, so the switch and the decision commit together."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_approved_switch runs inside the approval's transaction")
    return _apply(
        actor,
        organization,
        key,
        enabled=enabled,
        reason=reason,
        include_related=True,
        origin=origin,
        force=False,
        lock=None,
        durable=False,
    )


def force_capability(
    actor: User,
    organization: Organization,
    key: str,
    *,
    enabled: bool,
    reason: str,
    lock: bool = True,
    origin: Origin | None = None,
) -> ToggleResult:
    """An IT admin sets `key` for the organization, overriding its lock, and
    locks it (with `reason`) unless `lock` is False. Related capabilities follow
    the dependency rule; they are switched but not locked."""
    if not actor.is_staff:
        raise ActionError("Only IT admins can force a capability.", "it_admin_required")
    if not reason.strip():
        raise ActionError("Give a reason: the organization sees it.", "reason_required")
    return _apply(
        actor,
        organization,
        key,
        enabled=enabled,
        reason=reason,
        include_related=True,
        origin=origin,
        force=True,
        lock=lock,
    )


def unlock_capability(
    actor: User, organization: Organization, key: str, *, reason: str = "", origin: Origin | None = None
) -> None:
    if not actor.is_staff:
        raise ActionError("Only IT admins can unlock a capability.", "it_admin_required")
    registry().get(key)
    with transaction.atomic(durable=True):
        toggle = _lock_rows(organization, [key])[key]
        if not toggle.locked:
            raise ActionError(f"{registry().get(key).title} is not locked.", "not_locked")
        toggle.locked = False
        toggle.locked_reason = ""
        toggle.updated_by = actor
        toggle.updated_at = timezone.now()
        toggle.save()
        ToggleChange.objects.create(
            organization=organization,
            capability_key=key,
            from_enabled=toggle.enabled,
            to_enabled=toggle.enabled,
            locked=False,
            actor=actor,
            actor_email=actor.email,
            reason=reason or "Unlocked",
            source=ToggleChange.Source.IT_ADMIN,
        )
        record_audit(
            actor,
            "capability.unlocked",
            organization=organization,
            target=toggle,
            origin=origin,
            details={"capability": key, "reason": reason},
        )
        # The lock is part of every process's toggle snapshot (OFREP states it).
        transaction.on_commit(lambda: bump_version(organization.pk))


def _lock_rows(organization: Organization, keys: list[str]) -> dict[str, FeatureToggle]:
    for key in keys:
        FeatureToggle.objects.get_or_create(organization=organization, capability_key=key)
    rows = FeatureToggle.objects.select_for_update().filter(
        organization=organization, capability_key__in=keys
    )
    return {row.capability_key: row for row in rows.order_by("capability_key")}


def restrict_capability(organization: Organization, key: str, *, reason: str) -> ToggleResult:
    """Billing switches a paid capability off and locks it (a payment is overdue
    past its grace period). Data is kept; capabilities that need it follow."""
    return _apply(
        None,
        organization,
        key,
        enabled=False,
        reason=reason,
        include_related=True,
        origin=None,
        force=True,
        lock=True,
        source=ToggleChange.Source.BILLING,
    )


def lift_restriction(organization: Organization, key: str, *, reason: str) -> ToggleResult:
    """Billing gives back a capability it restricted (the payment came in)."""
    return _apply(
        None,
        organization,
        key,
        enabled=True,
        reason=reason,
        include_related=True,
        origin=None,
        force=True,
        lock=False,
        source=ToggleChange.Source.BILLING,
    )


def _apply(
    actor: User | None,
    organization: Organization,
    key: str,
    *,
    enabled: bool,
    reason: str,
    include_related: bool,
    origin: Origin | None,
    force: bool,
    lock: bool | None,
    source: str | None = None,
    durable: bool = True,
) -> ToggleResult:
    """Change toggles; `actor` is None when the system (billing) acts."""
    capability = registry().get(key)
    reason = reason.strip()[:300]
    with transaction.atomic(durable=durable):
        # Lock the organization's whole toggle set: concurrent changes of related
        # capabilities then see each other's result, never a half-applied rule.
        all_keys = registry().keys()
        rows = _lock_rows(organization, all_keys)
        target = rows[key]
        if target.locked and not force:
            raise CapabilityLocked(
                f"{capability.title} is locked by your platform administrator"
                f"{': ' + target.locked_reason if target.locked_reason else ''}. Contact them to change it."
            )
        if enabled:
            related = [dep for dep in registry().requirements(key) if not rows[dep].enabled]
            conflict_code = "dependencies_disabled"
            message = f"{capability.title} needs {_titles(related)} switched on too."
        else:
            related = [other for other in registry().dependents(key) if rows[other].enabled]
            conflict_code = "dependents_enabled"
            verb = "needs" if len(related) == 1 else "need"
            message = f"{_titles(related)} {verb} {capability.title}; switching it off switches them off too."
        if related and not include_related:
            raise DependencyConflict(message, conflict_code, related)
        locked_related = [other for other in related if rows[other].locked]
        if locked_related:
            raise CapabilityLocked(
                f"{_titles(locked_related)} {'is' if len(locked_related) == 1 else 'are'} locked "
                f"{'on' if not enabled else 'off'} by your platform administrator, so {capability.title} "
                "cannot change."
            )

        changed: dict[str, bool] = {}
        now = timezone.now()
        source = source or (ToggleChange.Source.IT_ADMIN if force else ToggleChange.Source.ORGANIZATION)
        for other in [key, *related]:
            row = rows[other]
            new_lock = (lock if lock is not None else row.locked) if other == key else row.locked
            if row.enabled == enabled and row.locked == new_lock:
                continue
            from_enabled = row.enabled
            row.enabled = enabled
            row.locked = new_lock
            if other == key and force:
                row.locked_reason = reason if new_lock else ""
            row.updated_by = actor
            row.updated_at = now
            row.save()
            why = (
                reason
                if other == key
                else f"Needed by the change of {capability.title}" + (f": {reason}" if reason else "")
            )
            ToggleChange.objects.create(
                organization=organization,
                capability_key=other,
                from_enabled=from_enabled,
                to_enabled=enabled,
                locked=new_lock,
                actor=actor,
                actor_email=actor.email if actor else "",
                reason=why,
                source=source if other == key else ToggleChange.Source.DEPENDENCY,
                at=now,
            )
            record_audit(
                actor,
                f"capability.{'forced' if force else 'enabled' if enabled else 'disabled'}",
                organization=organization,
                target=row,
                origin=origin,
                details={"capability": other, "enabled": enabled, "locked": new_lock, "reason": why},
                actor_email="" if actor else "Switchboard billing",
            )
            if from_enabled != enabled:
                changed[other] = enabled

        def announce() -> None:
            bump_version(organization.pk)
            for changed_key, state in changed.items():
                capability_toggled.send(
                    sender=FeatureToggle,
                    organization=organization,
                    capability_key=changed_key,
                    enabled=state,
                    actor=actor,
                )

        transaction.on_commit(announce)
    return ToggleResult(changed=changed)


class CapabilityDisabled(ActionError):
    def __init__(self, title: str) -> None:
        super().__init__(f"{title} is switched off for your organization.", "capability_disabled")


class BudgetExhausted(ActionError):
    """A reached `stop` budget covers the capability: no new job starts."""

    def __init__(self, stop: BudgetStop, title: str) -> None:
        super().__init__(budget_refusal(stop, title), "budget_exhausted")
        self.stop = stop


def start_job(
    actor: User | None,
    organization: Organization,
    capability_key: str,
    *,
    kind: str,
    job_input: dict | None = None,
    source: str | None = None,
) -> Job:
    """Queue a job of a capability on the capability's own queue. `source` says
    who started it (`Job.Source`): by default a person when there is an
    actor, else an API key; a capability starting one by itself says AUTOMATIC."""
    job = _new_job(actor, organization, capability_key, kind=kind, job_input=job_input, source=source)
    insert, params = _job_insert(job)
    [(pk, job.status, job.lease_expires_at)] = fetch_prepared(
        f"WITH on_hold AS (SELECT {_HELD} AS held) {insert} RETURNING id, status, lease_expires_at",
        [job.organization_id, job.capability, *params],
    )
    saved(job, pk)
    _publish_after_commit(job)
    return job


def start_job_with_row(
    actor: User | None,
    organization: Organization,
    capability_key: str,
    *,
    kind: str,
    row: Model,
    id_key: str,
    job_input: dict | None = None,
    source: str | None = None,
    audit: AuditEntry | None = None,
) -> Job:
    """`start_job` for a job about a new row: insert `row` (an unsaved model
    instance with an `id` key), the job, whose input carries the row's new id
    under `id_key`, and the action's `audit` entry, in one statement. Outside a
    transaction it commits on its own: one round trip where a transaction of
    three inserts takes five (inside a caller's transaction it joins it, in a
    savepoint). `row` is saved (its `pk` set). A constraint the row breaks
    raises IntegrityError with nothing written."""
    job = _new_job(actor, organization, capability_key, kind=kind, job_input=job_input, source=source)
    input_field = Job._meta.get_field("input")
    row_insert, row_params = insert_values(row)
    job_insert, job_params = _job_insert(
        job,
        input=(
            "%s::jsonb || jsonb_build_object(%s::text, (SELECT id FROM new_row))",
            [input_field.get_db_prep_save(job.input, connection), id_key],
        ),
    )
    ctes = [
        f"new_row AS ({row_insert} RETURNING id)",
        f"on_hold AS (SELECT {_HELD} AS held)",
        f"job AS ({job_insert} RETURNING id, status, lease_expires_at, input)",
    ]
    params = [*row_params, job.organization_id, job.capability, *job_params]
    if audit is not None:
        audit_insert, audit_params = insert_values(audit)
        ctes.append(f"audit AS ({audit_insert})")
        params.extend(audit_params)
    returned = "(SELECT id FROM new_row), id, status, lease_expires_at, input"
    sql = f"WITH {', '.join(ctes)} SELECT {returned} FROM job"  # noqa: S608  # the models' columns
    if connection.in_atomic_block:
        with transaction.atomic():  # a savepoint: a broken constraint leaves the caller's transaction usable
            [written] = fetch_prepared(sql, params)
    else:
        [written] = fetch_prepared(sql, params)
    row_pk, job_pk, job.status, job.lease_expires_at, job.input = written
    saved(row, row_pk)
    saved(job, job_pk)
    _publish_after_commit(job)
    return job


def _new_job(
    actor: User | None,
    organization: Organization,
    capability_key: str,
    *,
    kind: str,
    job_input: dict | None,
    source: str | None,
) -> Job:
    """The job `start_job` queues, unsaved, once every check let it start."""
    from capabilities import is_enabled
    from capabilities.job_context import job_function
    from capabilities.releases import running

    capability = registry().get(capability_key)
    if not organization.is_active:
        raise ActionError(f"{organization.name} is suspended; no job can start.", "organization_suspended")
    if not is_enabled(organization, capability_key):
        raise CapabilityDisabled(capability.title)
    stop = budget_stop(organization, capability_key)
    if stop is not None:
        raise BudgetExhausted(stop, capability.title)
    version = running(organization, capability_key).version.number
    try:
        job_function(capability_key, kind, version)
    except LookupError as missing:
        raise ActionError(str(missing), "unknown_job_kind") from None
    return Job(
        organization=organization,
        capability=capability_key,
        kind=kind,
        version=version,
        input=job_input or {},
        requested_by=actor,
        source=source or (Job.Source.PERSON if actor is not None else Job.Source.API_KEY),
        # Known before the message exists: one write, one commit.
        celery_task_id=str(uuid.uuid4()),
        status=Job.Status.QUEUED,
        # The message's lease: unclaimed past it, the sweep sends it again.
        lease_expires_at=timezone.now() + timedelta(seconds=settings.JOB_REQUEUE_GRACE),
    )


# A new job's row, held when its capability is held after a usage spike (it
# then waits for an owner, release_held_jobs: nothing is sent, claimed or
# billed, and it has no message lease). One prepared statement outside a
# transaction block commits on its own: no BEGIN and COMMIT round trips, and
# the hold's check in the same round trip, on the busiest write of the portal.
# Inside a caller's transaction it joins it, and the message waits for that
# commit. The statement reads the hold from a CTE `on_hold` (these two
# parameters: the organization and the capability) before the insert.
_HELD = anomalies.held_condition("%s", "%s")


def _job_insert(job: Job, **expressions: tuple[str, list[object]]) -> tuple[str, list[object]]:
    """The job's INSERT (after `WITH on_hold`)."""
    return insert_values(
        job,
        {
            "status": (
                "CASE WHEN (SELECT held FROM on_hold) THEN %s ELSE %s END",
                [Job.Status.HELD, job.status],
            ),
            "lease_expires_at": (
                "CASE WHEN (SELECT held FROM on_hold) THEN NULL ELSE %s::timestamptz END",
                [job.lease_expires_at],
            ),
            **expressions,
        },
    )


def _publish_after_commit(job: Job) -> None:
    """The job's row is written: its message leaves after commit (not a held job's)."""
    if job.status != Job.Status.HELD:
        queue = registry().get(job.capability).queue
        task_id = job.celery_task_id
        transaction.on_commit(lambda: publish_job(job.pk, queue, task_id))


def release_held_jobs(
    actor: User, organization: Organization, capability_key: str, *, origin: Origin | None = None
) -> int:
    """An owner confirms a capability held after a usage spike: the hold is
    lifted and its held jobs are queued, in the order they came, and sent to
    workers after commit. Returns how many jobs were released."""
    capability = registry().get(capability_key)
    if not actor.is_staff and not organization.memberships.filter(user=actor, role=Role.OWNER).exists():
        raise ActionError("Only an owner can release held jobs.", "owner_required")
    with transaction.atomic(durable=True):
        was_held = anomalies.clear_hold(organization, capability_key, actor.pk)
        held = list(
            Job.objects.select_for_update()
            .filter(organization=organization, capability=capability_key, status=Job.Status.HELD)
            .order_by("queued_at", "id")
            .values_list("pk", "celery_task_id")
        )
        if not was_held and not held:
            raise ActionError(f"{capability.title} is not held.", "not_held")
        Job.objects.filter(pk__in=[pk for pk, _ in held]).update(
            status=Job.Status.QUEUED,
            lease_expires_at=timezone.now() + timedelta(seconds=settings.JOB_REQUEUE_GRACE),
        )
        record_audit(
            actor,
            "capability.released",
            organization=organization,
            origin=origin,
            details={"capability": capability_key, "jobs": len(held)},
        )

        def publish() -> None:
            for job_id, task_id in held:
                publish_job(job_id, capability.queue, task_id)

        transaction.on_commit(publish)
    return len(held)


def publish_job(job_id: int, queue: str, task_id: str | None) -> bool:
    """Send the message that nudges a worker to run job `job_id`. The job row
    is the record: if the broker can't take the message (Redis down), the job
    stays queued and the sweep sends it when its lease runs out, so the caller
    (who has committed the job) gets its answer, not an error. Returns whether
    the message left."""
    from capabilities.runner import run_job

    try:
        # The same task id for every copy: a copy of the same message, never a second job.
        run_job.apply_async(args=[job_id], queue=queue, task_id=task_id or None)
    except Exception:
        logger.warning(
            "Job %s is stored but its message could not be sent; the sweep sends it", job_id, exc_info=True
        )
        return False
    return True


def cancel_job(actor: User, job: Job, *, origin: Origin | None = None) -> Job:
    """Cancel a job that has not started (queued or held). A running job
    cannot be cancelled: it was accepted and finishes."""
    with transaction.atomic(durable=True):
        waiting = [Job.Status.QUEUED, Job.Status.HELD]
        cancelled = Job.objects.filter(pk=job.pk, status__in=waiting).update(
            status=Job.Status.CANCELLED,
            finished_at=timezone.now(),
            error=f"Cancelled by {actor.email} before it started.",
            error_code="cancelled",
        )
        if not cancelled:
            current = Job.objects.get(pk=job.pk)
            raise ActionError(
                f"Only queued jobs can be cancelled; this one is {current.get_status_display().lower()}.",
                "not_queued",
            )
        record_audit(
            actor,
            "job.cancelled",
            organization=job.organization,
            target=job,
            origin=origin,
            details={"capability": job.capability, "kind": job.kind},
        )
    return Job.objects.get(pk=job.pk)
