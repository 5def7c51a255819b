"""Per-organization feature toggles, their append-only history, and jobs."""

from __future__ import annotations

import datetime
import zoneinfo

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey

from capabilities.registry import registry
from portal.append_only import AppendOnlyModel
from portal.models import Organization, User


class FeatureToggle(models.Model):
    """Whether a capability is on for an organization; one row per pair. A
    locked toggle was forced by an IT admin and the organization cannot change it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="toggles")
    capability_key = models.CharField(max_length=64)
    enabled = models.BooleanField(default=False)
    locked = models.BooleanField(default=False)
    locked_reason = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "capability_key"], name="one_toggle_per_capability"
            )
        ]
        indexes = [models.Index(fields=["organization", "enabled"])]

    def __str__(self) -> str:
        return f"{self.capability_key} {'on' if self.enabled else 'off'} for {self.organization}"


class ToggleChange(AppendOnlyModel):
    """One change of a toggle: from, to, who, why, when. Never edited."""

    class Source(models.TextChoices):
        ORGANIZATION = "organization", "Organization"
        DEPENDENCY = "dependency", "Dependency rule"
        IT_ADMIN = "it_admin", "IT admin"
        BILLING = "billing", "Billing (payment overdue)"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    capability_key = models.CharField(max_length=64)
    from_enabled = models.BooleanField()
    to_enabled = models.BooleanField()
    locked = models.BooleanField(default=False)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ORGANIZATION)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "capability_key", "-at"])]

    def __str__(self) -> str:
        return f"{self.capability_key}: {self.from_enabled} -> {self.to_enabled} by {self.actor_email}"


class ReleaseChoice(models.Model):
    """Which release of a capability an organization runs: its channel
    (`stable` unless an owner or admin opted in to `beta`), or a version an IT
    admin pinned it to (with the reason; the organization cannot change it
    then). No row: stable."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    capability_key = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, default="stable")
    pinned_version = models.CharField(max_length=40, blank=True)
    pinned_reason = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "capability_key"], name="one_release_choice_per_capability"
            )
        ]

    def __str__(self) -> str:
        chosen = f"pinned to {self.pinned_version}" if self.pinned_version else self.channel
        return f"{self.capability_key} {chosen} for {self.organization}"


class ReleaseChange(AppendOnlyModel):
    """One change of the release an organization runs: a channel switch, or a
    pin set or lifted by an IT admin. Never edited."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    capability_key = models.CharField(max_length=64)
    from_channel = models.CharField(max_length=16)
    to_channel = models.CharField(max_length=16)
    from_version = models.CharField(max_length=40)  # the version it ran before, and after
    to_version = models.CharField(max_length=40)
    pinned = models.BooleanField(default=False)  # set by an IT admin, who locked it
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "capability_key", "-at"])]

    def __str__(self) -> str:
        return f"{self.capability_key}: {self.from_version} -> {self.to_version} by {self.actor_email}"


class Job(models.Model):
    """One run of a capability's job function for an organization."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        # Waiting for an owner: its capability is held after a usage spike
        # (metering.anomalies). Not sent to workers, not claimable, not billed;
        # released, it is queued like any other.
        HELD = "held", "Held"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.REFUSED, Status.CANCELLED})

    class Source(models.TextChoices):
        """Who started it: a person (`requested_by`), a system calling the API
        with an organization's key, or a capability by itself (a notification's
        delivery after another job finished)."""

        PERSON = "person", "Person"
        API_KEY = "api_key", "API key"
        AUTOMATIC = "automatic", "Automatic"

    # No index of its own: the Meta indexes start with it. Every job's row is
    # written three times (queued, claimed, finished), each time into every index.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    capability = models.CharField(max_length=64)
    kind = models.CharField(max_length=64)
    input = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.API_KEY, db_default=Source.API_KEY
    )
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # > 1 after a redelivery
    # Until when the job's current holder is trusted with it: while queued, its
    # broker message (past this the sweep publishes it again); while running,
    # the worker, which renews it as the job runs (past this the worker is taken
    # for dead and the sweep queues the job again). See capabilities/runner.py.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The running claim's own mark: only its holder renews the lease, re-takes
    # the job on a retry, or records its outcome.
    lease_token = models.CharField(max_length=32, blank=True)
    publications = models.PositiveSmallIntegerField(default=1)  # messages sent for it
    # The capability's version it runs with, fixed when it is queued: a channel
    # change afterwards does not change what a queued job runs.
    version = models.CharField(max_length=40, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-queued_at"]),
            models.Index(fields=["organization", "capability", "status"]),
            # The sweep's scan: unfinished jobs by lease, nothing else.
            models.Index(
                fields=["lease_expires_at"],
                name="job_unfinished_lease",
                condition=models.Q(status__in=["queued", "running"]),
            ),
            # The health page's jobs retried lately: few rows.
            models.Index(fields=["queued_at"], name="job_retried", condition=models.Q(attempts__gt=1)),
            # Per-capability health and /metrics: the last hour's finished jobs.
            models.Index(
                fields=["finished_at"], name="job_finished_at", condition=models.Q(finished_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} {self.capability}.{self.kind} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def started_by(self) -> str:
        """Who started it, in words for the organization's people."""
        if self.requested_by is not None:
            return self.requested_by.email
        if self.source == self.Source.AUTOMATIC:
            title = (
                registry().get(self.capability).title if self.capability in registry() else self.capability
            )
            return f"{title} (automatic)"
        return "API key"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, self.progress_done * 100 // self.progress_total)


class CapabilityHealth(models.Model):
    """The degraded state of one capability across all organizations (one row
    per capability, written by the beat's assessment, capabilities/degraded.py):
    since when its jobs fail above the threshold, and when the IT admins were
    told. `alerted_at` is claimed with a conditional UPDATE, so one email goes
    per degraded episode whatever number of processes assess at once."""

    capability_key = models.CharField(max_length=64, unique=True)
    degraded_since = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)
    # The window's figures at the last assessment, for the pages' words.
    failed = models.PositiveIntegerField(default=0)
    finished = models.PositiveIntegerField(default=0)
    assessed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.capability_key}: {'degraded' if self.degraded_since else 'healthy'}"


KEY_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
key_validator = RegexValidator(
    KEY_PATTERN,
    "2 to 40 characters: lower-case letters, digits and underscores, starting with a letter.",
)


class ExternalCapability(models.Model):
    """A capability that runs as a separate service, registered by an IT admin
    (capabilities/services.py). The registry serves it beside the app
    capabilities: catalog, toggles, price book, Stripe, budgets, usage. Retired
    ones leave the catalog (and are switched off everywhere) but keep their
    history, usage and prices."""

    key = models.CharField(max_length=40, unique=True, validators=[key_validator])
    name = models.CharField(max_length=80)
    summary = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=60, default="Services")
    dependencies = models.JSONField(default=list, blank=True)  # capability keys
    documentation_url = models.URLField(max_length=500, blank=True)
    health_url = models.URLField(max_length=500, blank=True)
    version = models.CharField(max_length=40, default="1.0.0")  # its stable version
    # A beta version organizations can opt in to ("" for none), and its notes:
    # the flag's metadata tells the service which one an organization runs.
    beta_version = models.CharField(max_length=40, blank=True, default="", db_default="")
    beta_notes = models.CharField(max_length=300, blank=True, default="", db_default="")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "external capability"
        verbose_name_plural = "external capabilities"

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class ExternalMeter(models.Model):
    """A meter an external capability bills by: its default price seeds the
    price book, which then owns the price (as for app capabilities)."""

    capability = models.ForeignKey(ExternalCapability, on_delete=models.CASCADE, related_name="meters")
    key = models.CharField(max_length=40, validators=[key_validator])
    unit = models.CharField(max_length=40)  # singular: "page", "minute"
    unit_price = models.DecimalField(max_digits=12, decimal_places=6, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="usd")
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["capability", "key"], name="one_meter_key_per_service")
        ]

    def __str__(self) -> str:
        return f"{self.capability.key}.{self.key}"


class ServiceCredential(AbstractAPIKey):
    """A secret an external capability's service holds: it evaluates its own
    flag over OFREP (for any organization) and reports its own usage as
    CloudEvents, nothing else. Only a prefix and a hash are stored; the full
    secret is shown once."""

    capability = models.ForeignKey(ExternalCapability, on_delete=models.CASCADE, related_name="credentials")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "service credential"


class ScheduledSwitch(models.Model):
    """A switch of a capability on or off, set for a later moment by an owner,
    an admin or an IT admin, and carried out by beat through the same action
    as a manual switch (capabilities/schedules.py). `time_zone` is the zone
    the person chose the moment in; pages show the moment in it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    capability_key = models.CharField(max_length=64)
    enabled = models.BooleanField()
    at = models.DateTimeField()
    # Set for "at the end of this billing period": `at` is then the period's end.
    end_of_period = models.BooleanField(default=False)
    time_zone = models.CharField(max_length=64, default="UTC")
    include_related = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Words for people: what applying it did, or why it could not be applied.
    outcome = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # A beat run working on it holds it until then (a run that died lets go).
    claimed_until = models.DateTimeField(null=True, blank=True)
    # When the person who set a failed schedule was emailed (claimed before sending).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            # Beat's scan: pending schedules by moment, nothing else.
            models.Index(fields=["at"], name="schedule_pending_at", condition=models.Q(status="pending")),
            models.Index(fields=["organization", "capability_key", "status"], name="schedule_org_capability"),
        ]

    def __str__(self) -> str:
        return f"{self.capability_key} {'on' if self.enabled else 'off'} at {self.at:%Y-%m-%d %H:%M} UTC"

    @property
    def local_at(self) -> datetime.datetime:
        """The moment in the zone it was chosen in."""
        return self.at.astimezone(zoneinfo.ZoneInfo(self.time_zone))
