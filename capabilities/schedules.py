"""Scheduled switches: an owner, an admin or an IT admin sets a capability to
switch on or off at a later moment (or at the end of the billing period), and
beat carries it out within a minute of that moment through the same action as
a manual switch (`actions.set_capability_enabled`: dependency rule, locks and
all). A schedule that can no longer be applied is marked failed with the
reason, in words for people, and its author is emailed.

The state changes of schedules live here (not in actions.py, which is about
toggles and jobs); the read models the pages and the API use are at the end."""

from __future__ import annotations

import functools
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from capabilities import actions
from capabilities.gate import budget_refusal, budget_stop
from capabilities.models import FeatureToggle, ScheduledSwitch
from capabilities.registry import registry
from metering.periods import billing_period
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import Organization, User

logger = logging.getLogger(__name__)

# How far ahead a switch may be scheduled.
HORIZON = timedelta(days=366)
# How long one beat run holds a schedule it is applying; a run that died lets
# go after this, and the next run applies it (the switch is idempotent).
CLAIM = timedelta(minutes=5)
# The most schedules one beat run applies (the rest wait a minute).
BATCH = 200
BEAT = "Switchboard (scheduled switch)"


@functools.cache
def known_time_zones() -> frozenset[str]:
    """The IANA zone names a schedule may be chosen in (read once)."""
    return frozenset({"UTC", *zoneinfo.available_timezones()})


def _state_word(enabled: bool) -> str:
    return "on" if enabled else "off"


def expected_state(organization: Organization, key: str, moment: datetime) -> bool:
    """Whether `key` will be on for `organization` just after `moment`, by its
    toggle now and its pending schedules up to that moment."""
    toggle = FeatureToggle.objects.filter(organization=organization, capability_key=key).first()
    state = bool(toggle and toggle.enabled)
    earlier = (
        ScheduledSwitch.objects.filter(
            organization=organization,
            capability_key=key,
            status=ScheduledSwitch.Status.PENDING,
            at__lte=moment,
        )
        .order_by("-at", "-id")
        .values_list("enabled", flat=True)
        .first()
    )
    return state if earlier is None else earlier


def schedule_switch(
    actor: User,
    organization: Organization,
    key: str,
    *,
    enabled: bool,
    at: datetime | None = None,
    end_of_period: bool = False,
    time_zone: str = "UTC",
    include_related: bool = False,
    reason: str = "",
    origin: Origin | None = None,
    now: datetime | None = None,
) -> ScheduledSwitch:
    """Schedule `key` to switch on or off for `organization` at `at` (aware),
    or at the end of the billing period in progress when `end_of_period`."""
    capability = registry().get(key)
    now = now or timezone.now()
    if not actions.may_manage(actor, organization):
        raise ActionError("Only owners and admins can schedule a switch.", "managing_role_required")
    if time_zone not in known_time_zones():
        raise ActionError(f"“{time_zone}” is not a time zone we know.", "unknown_time_zone")
    if end_of_period:
        at = billing_period(now).end
    if at is None:
        raise ActionError(
            "Choose when: a date and time, or the end of this billing period.", "moment_required"
        )
    if timezone.is_naive(at):
        raise ActionError("Give the time with its time zone.", "naive_moment")
    if at <= now:
        raise ActionError("That moment has passed; choose a time in the future.", "moment_in_past")
    if at > now + HORIZON:
        raise ActionError("Schedule at most a year ahead.", "moment_too_far")
    reason = reason.strip()[:300]
    with transaction.atomic(durable=True):
        # One change of plan at a time per organization and capability, so the
        # state it will be in is read from a settled set of schedules.
        FeatureToggle.objects.get_or_create(organization=organization, capability_key=key)
        toggle = FeatureToggle.objects.select_for_update().get(organization=organization, capability_key=key)
        if toggle.locked:
            raise actions.CapabilityLocked(
                f"{capability.title} is locked {_state_word(toggle.enabled)} by your platform administrator"
                f"{': ' + toggle.locked_reason if toggle.locked_reason else ''}; it cannot be scheduled."
            )
        if expected_state(organization, key, at) == enabled:
            raise ActionError(
                f"{capability.title} will already be {_state_word(enabled)} then.", "already_in_state"
            )
        schedule = ScheduledSwitch.objects.create(
            organization=organization,
            capability_key=key,
            enabled=enabled,
            at=at,
            end_of_period=end_of_period,
            time_zone=time_zone,
            include_related=include_related,
            reason=reason,
            created_by=actor,
            created_at=now,
        )
        record_audit(
            actor,
            "capability.switch_scheduled",
            organization=organization,
            target=schedule,
            origin=origin,
            details={
                "capability": key,
                "enabled": enabled,
                "at": at.isoformat(),
                "end_of_period": end_of_period,
                "time_zone": time_zone,
                "include_related": include_related,
                "reason": reason,
            },
        )
    return schedule


def cancel_schedule(
    actor: User, schedule: ScheduledSwitch, *, origin: Origin | None = None, now: datetime | None = None
) -> ScheduledSwitch:
    """Cancel a pending schedule; one that was applied, failed or cancelled refuses."""
    if not actions.may_manage(actor, schedule.organization):
        raise ActionError("Only owners and admins can cancel a scheduled switch.", "managing_role_required")
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        # Not while beat is applying it (its claim): the switch may be under way.
        free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        cancelled = ScheduledSwitch.objects.filter(
            free, pk=schedule.pk, status=ScheduledSwitch.Status.PENDING
        ).update(
            status=ScheduledSwitch.Status.CANCELLED,
            cancelled_by=actor,
            finished_at=now,
            outcome=f"Cancelled by {actor.email}.",
        )
        if not cancelled:
            current = ScheduledSwitch.objects.get(pk=schedule.pk)
            if current.status == ScheduledSwitch.Status.PENDING:
                raise ActionError("It is being applied right now; it can no longer be cancelled.", "applying")
            raise ActionError(
                "Only pending schedules can be cancelled; "
                f"this one is {current.get_status_display().lower()}.",
                "not_pending",
            )
        record_audit(
            actor,
            "capability.schedule_cancelled",
            organization=schedule.organization,
            target=schedule,
            origin=origin,
            details={"capability": schedule.capability_key, "enabled": schedule.enabled},
        )
    return ScheduledSwitch.objects.get(pk=schedule.pk)


# --- beat ------------------------------------------------------------------------------


def apply_due(now: datetime) -> int:
    """Apply every pending schedule whose moment has come by `now`, oldest
    first; returns how many were applied or failed by this call."""
    due = ScheduledSwitch.objects.filter(status=ScheduledSwitch.Status.PENDING, at__lte=now).order_by(
        "at", "id"
    )
    done = 0
    for schedule_id in list(due.values_list("pk", flat=True)[:BATCH]):
        # Claimed first, so two runs at once never apply one schedule twice.
        free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        if not ScheduledSwitch.objects.filter(
            free, pk=schedule_id, status=ScheduledSwitch.Status.PENDING
        ).update(claimed_until=now + CLAIM):
            continue
        schedule = ScheduledSwitch.objects.select_related("organization", "created_by").get(pk=schedule_id)
        done += _apply_one(schedule, now)
    return done


def _refusal(schedule: ScheduledSwitch) -> str | None:
    """Why the schedule can no longer be applied before the switch is tried, if so."""
    organization, author = schedule.organization, schedule.created_by
    if schedule.capability_key not in registry():
        return "The capability is no longer installed."
    if not organization.is_active:
        return f"{organization.name} is suspended."
    if not author.is_active or not actions.may_manage(author, organization):
        return f"{author.email}, who scheduled it, is no longer an owner or admin of {organization.name}."
    return None


def _apply_one(schedule: ScheduledSwitch, now: datetime) -> int:
    refusal = _refusal(schedule)
    if refusal is not None:
        return _finish(schedule, now, failed=refusal)
    capability = registry().get(schedule.capability_key)
    why = f"Scheduled by {schedule.created_by.email}" + (f": {schedule.reason}" if schedule.reason else "")
    try:
        result = actions.set_capability_enabled(
            schedule.created_by,
            schedule.organization,
            schedule.capability_key,
            enabled=schedule.enabled,
            reason=why,
            include_related=schedule.include_related,
        )
    except ActionError as refused:
        return _finish(schedule, now, failed=refused.message)
    if not result.changed:
        outcome = f"{capability.title} was already {_state_word(schedule.enabled)}; nothing changed."
    else:
        outcome = actions_summary(result.changed)
    if schedule.enabled:
        stop = budget_stop(schedule.organization, schedule.capability_key)
        if stop is not None:
            outcome += " " + budget_refusal(stop, capability.title)
    return _finish(schedule, now, applied=outcome)


def actions_summary(changed: dict[str, bool]) -> str:
    """What a switch changed, in one sentence per direction."""
    on = [registry().get(key).title for key, state in changed.items() if state]
    off = [registry().get(key).title for key, state in changed.items() if not state]
    parts = []
    if on:
        parts.append(f"Switched on: {', '.join(on)}.")
    if off:
        parts.append(f"Switched off: {', '.join(off)}.")
    return " ".join(parts)


def _finish(schedule: ScheduledSwitch, now: datetime, *, applied: str = "", failed: str = "") -> int:
    status = ScheduledSwitch.Status.FAILED if failed else ScheduledSwitch.Status.APPLIED
    with transaction.atomic(durable=True):
        marked = ScheduledSwitch.objects.filter(pk=schedule.pk, status=ScheduledSwitch.Status.PENDING).update(
            status=status, outcome=(failed or applied)[:500], finished_at=now, claimed_until=None
        )
        if not marked:  # cancelled while it was being applied
            return 0
        record_audit(
            None,
            f"capability.schedule_{status}",
            organization=schedule.organization,
            target=schedule,
            details={
                "capability": schedule.capability_key,
                "enabled": schedule.enabled,
                "scheduled_by": schedule.created_by.email,
                "outcome": failed or applied,
            },
            actor_email=BEAT,
        )
        if failed:
            transaction.on_commit(lambda: notify_author(schedule.pk))
    return 1


def notify_author(schedule_id: int) -> bool:
    """Email the person who set a failed schedule why it failed, once: the row
    is claimed (notified_at) before the email goes; if sending fails the claim
    is released for beat's next run. True when this call sent it."""
    now = timezone.now()
    claimed = ScheduledSwitch.objects.filter(
        pk=schedule_id, status=ScheduledSwitch.Status.FAILED, notified_at__isnull=True
    ).update(notified_at=now)
    if not claimed:
        return False
    schedule = ScheduledSwitch.objects.select_related("organization", "created_by").get(pk=schedule_id)
    key, organization = schedule.capability_key, schedule.organization
    title = registry().get(key).title if key in registry() else key
    if (
        schedule.created_by.is_staff
        and not organization.memberships.filter(user=schedule.created_by).exists()
    ):
        page = reverse("manage:capabilities", kwargs={"slug": organization.slug})
    else:
        page = reverse("capability", kwargs={"key": key}) if key in registry() else reverse("home")
    message = (
        f"The switch of {title} {_state_word(schedule.enabled)} for {organization.name} that you "
        f"scheduled for {moment_text(schedule)} could not be applied:\n\n{schedule.outcome}\n\n"
        "Nothing changed. You can schedule it again, or switch it yourself, from "
        f"{settings.PORTAL_URL}{page}\n"
    )
    try:
        send_mail(
            subject=f"[{organization.name}] Scheduled switch of {title} failed",
            message=message,
            from_email=None,
            recipient_list=[schedule.created_by.email],
        )
    except Exception:
        logger.exception("Could not email the author of scheduled switch %s; beat tries again", schedule_id)
        ScheduledSwitch.objects.filter(pk=schedule_id, notified_at=now).update(notified_at=None)
        return False
    return True


def notify_pending() -> int:
    """Beat's safety net: email the authors of failed schedules not told yet."""
    waiting = ScheduledSwitch.objects.filter(status=ScheduledSwitch.Status.FAILED, notified_at__isnull=True)
    return sum(notify_author(schedule_id) for schedule_id in waiting.values_list("pk", flat=True)[:BATCH])


@shared_task(name="capabilities.apply_schedules", ignore_result=True)
def apply_schedules() -> str:
    """Beat, every minute: the scheduled switches that are due."""
    done = apply_due(timezone.now())
    told = notify_pending()
    return f"applied or failed {done}, authors told {told}"


# --- read models -------------------------------------------------------------------------


def moment_text(schedule: ScheduledSwitch) -> str:
    """When, in words, in the zone it was chosen in."""
    local = schedule.local_at
    text = f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({schedule.time_zone})"
    return f"the end of the billing period, {text}" if schedule.end_of_period else text


@dataclass(frozen=True)
class Schedules:
    """A capability's schedules for its page: the pending ones, and the last few finished."""

    pending: list[ScheduledSwitch]
    finished: list[ScheduledSwitch]


def pending_by_capability(organization: Organization) -> dict[str, list[ScheduledSwitch]]:
    """The organization's pending schedules by capability key, soonest first (one query)."""
    found: dict[str, list[ScheduledSwitch]] = defaultdict(list)
    rows = ScheduledSwitch.objects.filter(organization=organization, status=ScheduledSwitch.Status.PENDING)
    for schedule in rows.select_related("created_by").order_by("at", "id"):
        found[schedule.capability_key].append(schedule)
    return dict(found)


def for_capability(organization: Organization, key: str, *, finished: int = 5) -> Schedules:
    rows = ScheduledSwitch.objects.filter(organization=organization, capability_key=key).select_related(
        "created_by"
    )
    return Schedules(
        pending=list(rows.filter(status=ScheduledSwitch.Status.PENDING).order_by("at", "id")),
        finished=list(
            rows.exclude(status=ScheduledSwitch.Status.PENDING).order_by("-finished_at", "-id")[:finished]
        ),
    )


def of_organization(organization: Organization, key: str) -> list[ScheduledSwitch]:
    """All of a capability's schedules, newest moment first (the API's list)."""
    return list(
        ScheduledSwitch.objects.filter(organization=organization, capability_key=key)
        .select_related("created_by", "cancelled_by")
        .order_by("-at", "-id")
    )
