"""The usage ledger and its hourly rollups.

`UsageEvent` is append-only: a correction is a new event, never an edit. Each
event has an idempotency key, unique in the ledger, so a retried or duplicated
delivery can never count twice. `UsageRollup` is what dashboards read: per
organization, capability, meter and hour, incremented in the same transaction
as the events it sums.

Jobs are referred to by id only: metering sits below the capability framework.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from portal.append_only import AppendOnlyModel
from portal.models import Organization, User


class EventKind(models.TextChoices):
    UNITS = "units", "Units of work"
    API_CALLS = "api_calls", "API calls"
    COMPUTE = "compute", "Compute time"
    CORRECTION = "correction", "Correction"


class UsageEvent(AppendOnlyModel):
    id = models.BigAutoField(primary_key=True)
    # No index of its own: the (organization, occurred_at) index serves every
    # lookup by organization, and one index less is faster to write.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    quantity = models.BigIntegerField()  # whole units; negative only for corrections
    kind = models.CharField(max_length=16, choices=EventKind.choices, default=EventKind.UNITS)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=200, unique=True)
    job_id = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "occurred_at"]),
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["recorded_at"]),  # billing's push reads what was recorded since its last run
        ]

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d %H:%M}"
        return f"{self.organization_id} {self.capability}.{self.meter} {self.quantity:+d} @ {when}"


class Rollup(models.Model):
    """What every per-organization rollup grain holds; subclasses add their
    time bucket (hour, day or month) and its unique constraint."""

    # No index of its own: each grain's unique constraint starts with it. No
    # constraint in the database either: a rollup row only ever grows by events
    # of the same transaction, whose own foreign key has checked the
    # organization, and each new row's check ran again at commit (~3 µs a row,
    # a tenth of a large ingest). The ORM still protects it on delete.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    quantity = models.BigIntegerField(default=0)
    events = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class UsageRollup(Rollup):
    # The row's key is what it counts: no id, and no unique constraint or
    # (organization, hour) index beside the key. Its columns in this order
    # serve an organization's hours as one range (the usage pages) as well as
    # the ledger's upserts (ON CONFLICT names the same columns, in any order).
    # A new hourly row, nearly one per event in a large ingest spread over a
    # month, writes two indexes where it wrote four.
    pk = models.CompositePrimaryKey("organization", "hour", "capability", "meter")
    hour = models.DateTimeField()  # start of the UTC hour

    class Meta:
        indexes = [models.Index(fields=["hour"])]

    def __str__(self) -> str:
        return (
            f"{self.organization_id} {self.capability}.{self.meter} {self.hour:%Y-%m-%d %H}h: {self.quantity}"
        )


class UsageDailyRollup(Rollup):
    """Usage per organization, capability, meter and UTC day; kept with the
    hourly rollup in the same transaction, for ranges of whole days."""

    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "capability", "meter", "day"], name="one_rollup_per_day"
            )
        ]
        indexes = [models.Index(fields=["day", "capability", "meter"])]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.capability}.{self.meter} {self.day}: {self.quantity}"


class UsageMonthlyRollup(Rollup):
    """Usage per organization, capability, meter and calendar month (the billing
    period); `month` is the period's first day."""

    month = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "capability", "meter", "month"], name="one_rollup_per_month"
            )
        ]
        indexes = [models.Index(fields=["month"])]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.capability}.{self.meter} {self.month:%Y-%m}: {self.quantity}"


class PlatformDailyUsage(models.Model):
    """Usage per capability, meter and closed UTC day across all organizations,
    for the finance dashboard's trend. Built from the daily rollups by a periodic
    task (never in the write path: one row per meter and day would be a lock
    every organization's writes queue on)."""

    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    day = models.DateField()
    quantity = models.BigIntegerField(default=0)
    events = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["capability", "meter", "day"], name="one_platform_row_per_day")
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.capability}.{self.meter} {self.day}: {self.quantity}"


class PlatformUsageDay(models.Model):
    """A day whose PlatformDailyUsage rows are built (a day without usage has no
    rows, so the marker tells "built, zero" from "not built yet")."""

    day = models.DateField(primary_key=True)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.day} (refreshed {self.refreshed_at:%Y-%m-%d %H:%M})"


class ApiCallCount(models.Model):
    """API calls one web process counted for one organization, capability and
    hour, on their way to the ledger (see metering/api_calls.py). `calls` only
    grows; `moved` is how many of them the ledger holds; `batch` is the
    number of the process's last write applied here, so a write retried after
    a lost commit is not applied twice."""

    process = models.CharField(max_length=64)
    organization_id = models.BigIntegerField()  # no foreign key: a deleted organization's calls are dropped
    capability = models.CharField(max_length=64)
    hour = models.DateTimeField()
    calls = models.BigIntegerField(default=0)
    moved = models.BigIntegerField(default=0)
    batch = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["process", "organization_id", "capability", "hour"],
                name="metering_api_call_count_once",
            )
        ]
        indexes = [
            models.Index(fields=["hour"], name="metering_api_call_count_hour"),
            models.Index(
                fields=["id"],
                name="metering_api_calls_to_move",
                condition=models.Q(calls__gt=models.F("moved")),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.process} {self.organization_id} {self.capability} {self.hour:%Y-%m-%d %H}: {self.calls}"
        )


class Budget(models.Model):
    """A monthly spending limit of an organization: over all its capabilities
    (`capability` is None) or one of them, in the prices' currency. With the
    action `stop`, new jobs and metered API calls of what it covers are
    refused once it is reached (capabilities.gate); with `alert`, it only
    alerts. Alerts go at each threshold (percent of the amount), once a period.

    A platform cap (`platform`) is set by the platform's finance people or IT
    admins; the organization sees it, locked with its reason, and cannot
    change it. An organization has at most one budget of its own and one cap
    per scope.

    `spent`, `job_spent` and `jobs_charged` are the enforcement counters of
    the period starting `period_start`: the exact priced usage (unit price x
    quantity, not rounded), incremented by each job's result in the same
    statement as its usage (metering.ledger.append_if) and set from the
    rollups by metering.budgets.recompute (every minute, and after any change)
    for the usage that does not come from jobs. Pages show the rounded figure
    of /usage/ instead."""

    class Action(models.TextChoices):
        STOP = "stop", "Stop new work"
        ALERT = "alert", "Alert only"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="budgets")
    capability = models.CharField(max_length=64, null=True, blank=True)  # None: every capability
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="usd")
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.STOP)
    thresholds = models.JSONField(default=list)  # percents, ascending, e.g. [50, 80, 100]
    platform = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)  # a platform cap's, shown to the organization
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    period_start = models.DateField(null=True, blank=True)
    spent = models.DecimalField(max_digits=20, decimal_places=8, default=0)
    job_spent = models.DecimalField(max_digits=20, decimal_places=8, default=0)
    jobs_charged = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["organization", "capability", "platform"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "capability", "platform"],
                name="one_budget_per_scope",
                nulls_distinct=False,
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="budget_amount_not_negative"),
        ]

    def __str__(self) -> str:
        scope = self.capability or "all capabilities"
        kind = "platform cap" if self.platform else "budget"
        return f"{self.organization_id} {kind} {self.amount} {self.currency} for {scope}"


class UsageAnomaly(models.Model):
    """A closed UTC day on which one meter of one capability of an organization
    used far more than its rolling baseline (metering/anomalies.py says how
    far). Recorded once per (organization, capability, meter, day), whatever
    number of detection runs see it; never edited."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    capability = models.CharField(max_length=64)
    meter = models.CharField(max_length=64)
    day = models.DateField()
    quantity = models.BigIntegerField()  # the day's usage, whole units
    # The baseline: median and median absolute deviation of the previous days'
    # usage (days without usage count as 0), in units; halves are possible.
    baseline_median = models.DecimalField(max_digits=24, decimal_places=2)
    baseline_mad = models.DecimalField(max_digits=24, decimal_places=2)
    # The usual day the ratio is taken against: the median, or when that is 0
    # the median of the baseline days with usage (0 when there were none).
    usual_day = models.DecimalField(max_digits=24, decimal_places=2)
    # How unusual: the robust z-score (None when every baseline day was the
    # same figure: any departure is then unbounded) and quantity / usual_day
    # (None when usual_day is 0).
    robust_z = models.FloatField(null=True, blank=True)
    ratio = models.FloatField(null=True, blank=True)
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "capability", "meter"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "capability", "meter", "day"], name="one_anomaly_per_meter_day"
            )
        ]
        indexes = [models.Index(fields=["organization", "-day"]), models.Index(fields=["-day"])]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.capability}.{self.meter} {self.day}: {self.quantity}"


class AnomalyScanDay(models.Model):
    """A closed day anomaly detection has run for (a day with no anomaly has no
    rows, so the marker tells "scanned, nothing found" from "not scanned": the
    daily task catches up on the days without one)."""

    day = models.DateField(primary_key=True)
    scanned_at = models.DateTimeField()
    found = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.found} anomalies"


class AnomalyHold(models.Model):
    """An organization's choice to hold a capability when its usage spikes, and
    whether it is held now. While `held_since` is set, new jobs of the
    capability wait (status "held") for an owner to release them. Metering
    keeps it, below the capability framework, so that detection can set it in
    the transaction that records the anomaly; the framework reads it through
    metering.anomalies.is_held."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    capability = models.CharField(max_length=64)
    hold_on_anomaly = models.BooleanField(default=False)
    held_since = models.DateTimeField(null=True, blank=True)
    anomaly = models.ForeignKey(
        UsageAnomaly, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "capability"], name="one_anomaly_hold_per_capability"
            )
        ]

    def __str__(self) -> str:
        state = "held" if self.held_since else "on" if self.hold_on_anomaly else "off"
        return f"{self.organization_id} {self.capability}: hold {state}"
