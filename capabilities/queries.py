"""Read models of the catalog, capability pages, the API and IT admin pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from capabilities.models import (
    CapabilityHealth,
    ExternalCapability,
    FeatureToggle,
    Job,
    ReleaseChange,
    ServiceCredential,
    ToggleChange,
)
from capabilities.registry import Capability, registry
from capabilities.releases import Running, running
from metering.queries import estimates as cost_estimates
from metering.queries.estimates import Estimate
from portal.models import Organization


@dataclass(frozen=True)
class CatalogEntry:
    capability: Capability
    enabled: bool
    locked: bool
    locked_reason: str
    dependencies: list[Capability]
    missing_dependencies: list[Capability]
    degraded: bool = False  # its jobs fail above the rule (capabilities/degraded.py), for everyone
    release: Running | None = None  # the version the organization runs, and its channel

    @property
    def key(self) -> str:
        return self.capability.key


def catalog(organization: Organization) -> list[CatalogEntry]:
    """Every installed capability with its state for `organization` (two
    queries: its toggles, and the capabilities degraded for everyone)."""
    rows = {row.capability_key: row for row in FeatureToggle.objects.filter(organization=organization)}
    degraded = degraded_capabilities()
    installed = registry()
    entries = []
    for capability in installed:
        row = rows.get(capability.key)
        enabled = bool(row and row.enabled)
        dependencies = [installed.get(key) for key in installed.requirements(capability.key)]
        entries.append(
            CatalogEntry(
                capability=capability,
                enabled=enabled,
                locked=bool(row and row.locked),
                locked_reason=row.locked_reason if row else "",
                dependencies=dependencies,
                missing_dependencies=[
                    dep for dep in dependencies if not (rows.get(dep.key) and rows[dep.key].enabled)
                ],
                degraded=capability.key in degraded,
                release=running(organization, capability.key),
            )
        )
    return entries


def catalog_entry(organization: Organization, key: str) -> CatalogEntry:
    registry().get(key)
    return next(entry for entry in catalog(organization) if entry.key == key)


def estimates(organization: Organization) -> dict[str, Estimate]:
    """Every installed capability's monthly estimate for `organization` (see
    `metering.queries.estimates`: two queries for all of them)."""
    return cost_estimates.estimates(organization, [capability.key for capability in registry()])


def estimate(organization: Organization, key: str) -> Estimate:
    """One capability's monthly estimate (the toggle API's answer)."""
    return cost_estimates.estimate(organization, key)


@dataclass(frozen=True)
class LockOff:
    """Why a capability can't be switched on by its organization: it, or one it
    needs, was locked off by an IT admin."""

    capability: Capability  # the locked one: the asked-for one or what it needs
    reason: str
    locked_by_name: str  # the IT admin's name, "" when unknown

    @property
    def administrator(self) -> str:
        """Whom to ask, in words: the IT admin by name, else the role."""
        if self.locked_by_name:
            return f"{self.locked_by_name}, your platform administrator,"
        return "your platform administrator"

    def explanation(self, asked: Capability) -> str:
        """The lock in one plain sentence pair, for answers without a page (the API)."""
        reason = f": “{self.reason}”" if self.reason else ""
        if asked.key == self.capability.key:
            what = (
                f"{self.administrator[0].upper()}{self.administrator[1:]} locked {asked.title} off{reason}."
            )
        else:
            what = (
                f"{asked.title} needs {self.capability.title}, which {self.administrator} locked off{reason}."
            )
        return f"{what} Ask {self.administrator} to unlock it."


def lock_off(organization: Organization, key: str) -> LockOff | None:
    """The IT admin's lock that keeps `key` off for `organization`: on `key`
    itself, else on the nearest capability it needs; None when the
    organization could switch it on itself."""
    installed = registry()
    candidates = [key, *installed.requirements(key)]
    rows = {
        row.capability_key: row
        for row in FeatureToggle.objects.filter(
            organization=organization, capability_key__in=candidates, locked=True, enabled=False
        )
    }
    locked = next((candidate for candidate in candidates if candidate in rows), None)
    if locked is None:
        return None
    lock_change = (
        history(organization, locked)
        .filter(locked=True, source=ToggleChange.Source.IT_ADMIN)
        .select_related("actor")
        .first()
    )
    actor = lock_change.actor if lock_change else None
    return LockOff(
        capability=installed.get(locked),
        reason=rows[locked].locked_reason,
        locked_by_name=actor.full_name if actor else "",
    )


def history(organization: Organization, key: str) -> QuerySet[ToggleChange]:
    """The switches of capability `key`'s toggle for `organization`, newest first."""
    return ToggleChange.objects.filter(organization=organization, capability_key=key).order_by("-at", "-id")


def change_history(organization: Organization, key: str) -> QuerySet[Any]:
    """Every change of capability `key` for `organization`, newest first: its
    toggle's switches and the changes of the release it runs (channel switches,
    pins), as rows of the same columns (one query per page, one to count).
    Toggle rows have no channels or versions; release rows have no `enabled`."""
    no_text = Value(None, output_field=CharField())
    no_flag = Value(None, output_field=BooleanField())
    toggles = ToggleChange.objects.filter(organization=organization, capability_key=key).values(
        entry_kind=Value("toggle"),
        entry_at=F("at"),
        entry_id=F("id"),
        entry_actor=F("actor_email"),
        entry_reason=F("reason"),
        entry_source=F("source"),
        entry_locked=F("locked"),
        entry_from_enabled=F("from_enabled"),
        entry_to_enabled=F("to_enabled"),
        entry_from_channel=no_text,
        entry_to_channel=no_text,
        entry_from_version=no_text,
        entry_to_version=no_text,
    )
    releases = ReleaseChange.objects.filter(organization=organization, capability_key=key).values(
        entry_kind=Value("release"),
        entry_at=F("at"),
        entry_id=F("id"),
        entry_actor=F("actor_email"),
        entry_reason=F("reason"),
        # Pins are set and lifted by IT admins (platform staff), who may switch a channel too.
        entry_source=Case(
            When(actor__is_staff=True, then=Value(ToggleChange.Source.IT_ADMIN.value)),
            default=Value(ToggleChange.Source.ORGANIZATION.value),
        ),
        entry_locked=F("pinned"),
        entry_from_enabled=no_flag,
        entry_to_enabled=no_flag,
        entry_from_channel=F("from_channel"),
        entry_to_channel=F("to_channel"),
        entry_from_version=F("from_version"),
        entry_to_version=F("to_version"),
    )
    return toggles.union(releases, all=True).order_by("-entry_at", "-entry_id")


@dataclass(frozen=True)
class JobHealth:
    waiting: int  # queued, message not claimed within its lease
    oldest_waiting: datetime | None
    abandoned: int  # running, lease expired: the worker died
    retried: int  # attempts > 1, queued in the last 24 hours
    worker_lost: int  # of those, failed for stopping their worker too often
    retried_unfinished: int  # of those, still queued or running


def job_health(now: datetime) -> JobHealth:
    """Jobs the sweep has to take care of, and jobs it took care of lately: two
    aggregate queries, each on a partial index (unfinished jobs by lease; jobs
    with more than one attempt by queue time)."""
    expired = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    stranded = Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).aggregate(
        waiting=Count("id", filter=Q(status=Job.Status.QUEUED) & expired),
        oldest_waiting=Min("queued_at", filter=Q(status=Job.Status.QUEUED) & expired),
        abandoned=Count("id", filter=Q(status=Job.Status.RUNNING) & expired),
    )
    retried = Job.objects.filter(attempts__gt=1, queued_at__gte=now - timedelta(hours=24)).aggregate(
        retried=Count("id"),
        worker_lost=Count("id", filter=Q(status=Job.Status.FAILED, error_code="worker_lost")),
        retried_unfinished=Count("id", filter=Q(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])),
    )
    return JobHealth(**stranded, **retried)


class Percentile(Aggregate):
    """PostgreSQL's `percentile_cont(fraction) WITHIN GROUP (ORDER BY …)`:
    the interpolated percentile of a duration (or any number)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass(frozen=True)
class CapabilityJobs:
    """One capability's jobs as the health page and /metrics show them."""

    queued: int = 0
    oldest_queued: datetime | None = None
    running: int = 0
    succeeded: int = 0  # finished in the last hour
    failed: int = 0
    duration_p50: timedelta | None = None
    duration_p95: timedelta | None = None


JOB_FIGURES_WINDOW = timedelta(hours=1)


def capability_jobs(now: datetime) -> dict[str, CapabilityJobs]:
    """Every capability's unfinished jobs and its last hour's outcomes and
    durations, by key: two grouped queries whatever the number of
    capabilities, each on a partial index (unfinished jobs; finished jobs by
    time), so their cost grows with the jobs in flight and in the hour, never
    with the history."""
    unfinished = (
        Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        .values("capability")
        .annotate(
            queued=Count("id", filter=Q(status=Job.Status.QUEUED)),
            oldest_queued=Min("queued_at", filter=Q(status=Job.Status.QUEUED)),
            running=Count("id", filter=Q(status=Job.Status.RUNNING)),
        )
        .order_by()
    )
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    finished = (
        Job.objects.filter(
            finished_at__gte=now - JOB_FIGURES_WINDOW,
            status__in=[Job.Status.SUCCEEDED, Job.Status.FAILED],
        )
        .values("capability")
        .annotate(
            succeeded=Count("id", filter=Q(status=Job.Status.SUCCEEDED)),
            failed=Count("id", filter=Q(status=Job.Status.FAILED)),
            duration_p50=Percentile(duration, 0.5, output_field=DurationField()),
            duration_p95=Percentile(duration, 0.95, output_field=DurationField()),
        )
        .order_by()
    )
    figures: dict[str, dict[str, Any]] = {}
    for row in [*unfinished, *finished]:
        values: dict[str, Any] = dict(row)
        figures.setdefault(values.pop("capability"), {}).update(values)
    return {key: CapabilityJobs(**values) for key, values in figures.items()}


def degraded_capabilities() -> dict[str, CapabilityHealth]:
    """The capabilities in a degraded episode, by key (one query on a row per
    capability): what the catalog and the capability pages mark."""
    return {row.capability_key: row for row in CapabilityHealth.objects.filter(degraded_since__isnull=False)}


def restricted_by_billing(organization: Organization) -> list[str]:
    """The capabilities switched off and locked whose last change was billing's
    restriction (an overdue payment), in key order: what a payment gives back."""
    locked = FeatureToggle.objects.filter(organization=organization, locked=True, enabled=False)
    keys = []
    for toggle in locked.order_by("capability_key"):
        last = (
            ToggleChange.objects.filter(organization=organization, capability_key=toggle.capability_key)
            .order_by("-at", "-id")
            .first()
        )
        if last is not None and last.source == ToggleChange.Source.BILLING:
            keys.append(toggle.capability_key)
    return keys


def external_capabilities() -> QuerySet[ExternalCapability]:
    """Registered services for the IT admins' list, in service first, each
    with how many organizations have it on and how many credentials work
    (two subqueries; one query whatever the number)."""
    on = (
        FeatureToggle.objects.filter(capability_key=OuterRef("key"), enabled=True)
        .order_by()
        .values("capability_key")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        ExternalCapability.objects.annotate(
            organizations_on=Coalesce(Subquery(on, output_field=IntegerField()), 0),
            working_credentials=Count("credentials", filter=Q(credentials__revoked=False), distinct=True),
            meter_count=Count("meters", distinct=True),
        )
        .select_related("created_by")
        .order_by(F("retired_at").asc(nulls_first=True), "name")
    )


def service_credentials(service: ExternalCapability) -> list[ServiceCredential]:
    """A service's credentials, working ones first, newest first."""
    return list(service.credentials.select_related("created_by").order_by("revoked", "-created"))
