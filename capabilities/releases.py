"""Versions and channels: which release of a capability an organization runs.

A capability declares its releases (`registry.Version`), each on a channel.
Organizations run the newest `stable` release unless an owner or admin opts
one capability in to `beta` (the newest beta release, or stable's when there
is none newer); an IT admin can pin a tenant to a version instead, locked with
a reason. A job is queued with the version its organization runs then
(`Job.version`) and runs with that version's job kinds, whatever changes after.

The state changes (with their history and audit entries) and the read model
the pages and the API use are here."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from capabilities.actions import may_manage
from capabilities.gate import bump_version, release_choice
from capabilities.models import ReleaseChange, ReleaseChoice
from capabilities.registry import BETA, CHANNELS, STABLE, Capability, Version, registry
from capabilities.signals import release_changed
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import Organization, User


@dataclass(frozen=True)
class Running:
    """The release an organization runs of one capability, and why."""

    version: Version
    channel: str  # the organization's channel (stable unless it opted in to beta)
    pinned: bool = False  # an IT admin pinned `version`
    pinned_reason: str = ""

    @property
    def channel_label(self) -> str:
        return CHANNELS[self.channel]


def _resolve(capability: Capability, channel: str, pinned: str, reason: str) -> Running:
    if pinned:
        try:
            return Running(capability.release(pinned), channel, True, reason)
        except LookupError:
            pass  # a version the capability no longer ships: its channel's newest
    return Running(capability.latest(channel), channel)


def _of_row(capability: Capability, choice: ReleaseChoice) -> Running:
    return _resolve(capability, choice.channel, choice.pinned_version, choice.pinned_reason)


def running(organization: Organization | int, key: str) -> Running:
    """The release `organization` runs of capability `key`, from the toggle
    gate's snapshot: no query while it is fresh (and none at all for a
    capability with a single release). What a job is queued with, and what the
    pages, the API and OFREP state."""
    capability = registry().get(key)
    if len(capability.releases) == 1:
        return Running(capability.releases[0], STABLE)
    return _resolve(capability, *release_choice(organization, key))


def versions_in_database(organization: Organization) -> dict[str, str]:
    """The version `organization` runs of each capability that has more than
    one release, read from the database now (the record: for billing, which
    must not act on a snapshot)."""
    choices = {
        choice.capability_key: choice for choice in ReleaseChoice.objects.filter(organization=organization)
    }
    found = {}
    for capability in registry():
        if len(capability.releases) > 1:
            choice = choices.get(capability.key)
            runs = _of_row(capability, choice) if choice else Running(capability.latest(STABLE), STABLE)
            found[capability.key] = runs.version.number
    return found


def _locked_choice(organization: Organization, key: str) -> ReleaseChoice:
    choice, _ = ReleaseChoice.objects.select_for_update().get_or_create(
        organization=organization, capability_key=key
    )
    return choice


def _save(
    actor: User,
    organization: Organization,
    capability: Capability,
    choice: ReleaseChoice,
    before: Running,
    *,
    action: str,
    reason: str,
    origin: Origin | None,
) -> Running:
    """Save `choice` as changed by `actor`, and record the change (history,
    audit, the gate's new stamp after commit); the release it makes run."""
    choice.updated_by = actor
    choice.updated_at = timezone.now()
    choice.save()
    after = _of_row(capability, choice)
    ReleaseChange.objects.create(
        organization=organization,
        capability_key=capability.key,
        from_channel=before.channel,
        to_channel=after.channel,
        from_version=before.version.number,
        to_version=after.version.number,
        pinned=after.pinned,
        actor=actor,
        actor_email=actor.email,
        reason=reason,
    )

    def announce() -> None:
        # Every process's gate snapshot holds the choice: announce it like a toggle change.
        bump_version(organization.pk)
        release_changed.send(
            sender=ReleaseChoice,
            organization=organization,
            capability_key=capability.key,
            from_version=before.version.number,
            to_version=after.version.number,
            actor=actor,
        )

    transaction.on_commit(announce)
    record_audit(
        actor,
        action,
        organization=organization,
        target=choice,
        origin=origin,
        details={
            "capability": capability.key,
            "channel": after.channel,
            "from_version": before.version.number,
            "to_version": after.version.number,
            "pinned": after.pinned,
            "reason": reason,
        },
    )
    return after


def set_channel(
    actor: User, organization: Organization, key: str, channel: str, *, origin: Origin | None = None
) -> Running:
    """Run capability `key` on `channel` for `organization` from its next job
    on (queued jobs keep their version). Owners and admins; refused while an IT
    admin has pinned a version."""
    capability = registry().get(key)
    if channel not in CHANNELS:
        raise ActionError(f"“{channel}” is not a channel; choose stable or beta.", "unknown_channel")
    if not may_manage(actor, organization):
        raise ActionError(
            "Only owners and admins can choose a capability's channel.", "managing_role_required"
        )
    if channel == BETA and not capability.has_beta:
        raise ActionError(f"{capability.title} has no beta version at the moment.", "no_beta_version")
    with transaction.atomic(durable=True):
        choice = _locked_choice(organization, key)
        before = _of_row(capability, choice)
        if before.pinned:
            raise ActionError(
                f"An IT admin pinned {capability.title} to version {before.version.number}"
                f"{': ' + before.pinned_reason if before.pinned_reason else ''}. Ask them to lift the pin.",
                "version_pinned",
            )
        if choice.channel == channel:
            return before
        choice.channel = channel
        return _save(
            actor,
            organization,
            capability,
            choice,
            before,
            action="capability.channel_changed",
            reason=f"Switched to {CHANNELS[channel].lower()}",
            origin=origin,
        )


def pin_version(
    actor: User,
    organization: Organization,
    key: str,
    version: str,
    *,
    reason: str,
    origin: Origin | None = None,
) -> Running:
    """An IT admin pins `organization` to version `version` of `key`, with
    `reason` (the organization sees it and cannot change its channel)."""
    capability = registry().get(key)
    if not actor.is_staff:
        raise ActionError("Only IT admins can pin a version.", "it_admin_required")
    try:
        capability.release(version)
    except LookupError:
        known = ", ".join(release.number for release in capability.releases)
        raise ActionError(
            f"{capability.title} has no version “{version}” (it has {known}).", "unknown_version"
        ) from None
    reason = reason.strip()[:300]
    if not reason:
        raise ActionError("Give a reason: the organization sees it.", "reason_required")
    with transaction.atomic(durable=True):
        choice = _locked_choice(organization, key)
        before = _of_row(capability, choice)
        choice.pinned_version = version
        choice.pinned_reason = reason
        return _save(
            actor,
            organization,
            capability,
            choice,
            before,
            action="capability.version_pinned",
            reason=reason,
            origin=origin,
        )


def unpin_version(
    actor: User, organization: Organization, key: str, *, reason: str = "", origin: Origin | None = None
) -> Running:
    """An IT admin lifts the pin: the organization runs its channel's release again."""
    capability = registry().get(key)
    if not actor.is_staff:
        raise ActionError("Only IT admins can lift a pin.", "it_admin_required")
    with transaction.atomic(durable=True):
        choice = _locked_choice(organization, key)
        before = _of_row(capability, choice)
        if not before.pinned:
            raise ActionError(f"{capability.title} is not pinned to a version.", "not_pinned")
        choice.pinned_version = ""
        choice.pinned_reason = ""
        return _save(
            actor,
            organization,
            capability,
            choice,
            before,
            action="capability.version_unpinned",
            reason=reason.strip()[:300] or "Pin lifted",
            origin=origin,
        )
