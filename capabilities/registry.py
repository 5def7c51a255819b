"""The capability registry: every installed app whose AppConfig subclasses
`CapabilityConfig` is a capability. The catalog, the API, the price book,
navigation and the Celery queues are all derived from what is declared here."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from django.apps import AppConfig, apps
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from capabilities.gate import STALENESS
from metering import meter_prices

if TYPE_CHECKING:
    from capabilities.models import ExternalCapability
    from portal.models import Organization, User


@dataclass(frozen=True)
class Meter:
    """A unit a capability bills by, e.g. pages processed."""

    key: str
    unit: str  # singular label: "page", "report", "message"
    unit_price: Decimal  # default price per unit, in `currency`
    currency: str = "usd"
    aggregation: str = "sum"
    description: str = ""
    # Set on a version's own meter (see `Version.prices`): the release it bills
    # and the meter it prices differently for that release.
    version: str = ""
    base: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.unit_price, Decimal):
            raise ImproperlyConfigured(f"Meter {self.key}: unit_price must be a Decimal, never a float")
        if self.aggregation != "sum":
            raise ImproperlyConfigured(f"Meter {self.key}: only 'sum' aggregation is supported")


@dataclass(frozen=True)
class PricedMeter:
    """A meter as a customer sees it: the price in force now (the price book's
    version, once billing is installed; the declared default before) and the
    change already scheduled, if any."""

    key: str
    unit: str
    description: str
    aggregation: str
    unit_price: Decimal
    currency: str
    scheduled_price: Decimal | None = None
    scheduled_from: datetime | None = None
    version: str = ""  # a version's own meter: the release it bills
    base: str = ""  # ... and the meter it prices differently

    @property
    def priced(self) -> bool:
        return self.unit_price > 0 or bool(self.scheduled_price)


# Meters every capability has, recorded by the platform itself: calls made with
# an organization API key to its endpoints, and its jobs' compute time.
API_CALLS = "api_calls"
COMPUTE_SECONDS = "compute_seconds"


@dataclass(frozen=True)
class DemoMeter:
    """A working day of one meter in the quickstart's demo history (`demo/`),
    for an organization of Acme's size (smaller ones scale it down): how many
    events on a weekday, and how many units one carries on average."""

    meter: str
    events_per_day: float
    units_per_event: float = 1.0


@dataclass(frozen=True)
class JobKind:
    """One kind of job a capability runs.

    function  dotted path of the job function
    input     dotted path of its input form (a `capabilities.forms.JobInputForm`),
              which validates what the API and the page send; "" when the job
              takes no input
    label     what a person calls it ("Build a report")
    by_hand   whether a person starts it from the capability's page (a form built
              from `input`); other kinds are started by the capability itself
              (an upload, a rule) and through the API
    """

    function: str
    input: str = ""
    label: str = ""
    by_hand: bool = False


# What a version may be called: "1.0", "2.1.0-beta.1".
VERSION_NUMBER = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+\-]{0,39}")
STABLE = "stable"
BETA = "beta"
CHANNELS = {STABLE: "Stable", BETA: "Beta"}
CHANNEL_CHOICES = list(CHANNELS.items())


@dataclass(frozen=True)
class Version:
    """One release of a capability.

    number     what people call it: "1.0", "2.0"
    channel    `stable` (every organization runs it unless it opts in to beta or
               is pinned) or `beta` (organizations that opted in)
    notes      the release notes shown beside it
    job_kinds  the job kinds this version changes: kind -> its JobKind (a new
               function or input form); the others are the capability's own
    prices     the meters this version prices differently: meter key -> default
               price per unit (a beta at a discount, say). Each becomes a meter
               of its own (`version_meter_key`), with its own line in the price
               book, its own Stripe meter and price, and its own usage lines; the
               jobs of this version count their units there. Versions share the
               capability's prices for every other meter.
    """

    number: str
    channel: str = STABLE
    notes: str = ""
    job_kinds: tuple[tuple[str, JobKind | str], ...] = ()
    prices: tuple[tuple[str, Decimal], ...] = ()

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ImproperlyConfigured(f"Version {self.number}: channel must be one of {', '.join(CHANNELS)}")
        for meter, price in self.prices:
            if not isinstance(price, Decimal):
                raise ImproperlyConfigured(
                    f"Version {self.number}: the price of {meter!r} must be a Decimal, never a float"
                )
            if price < 0:
                raise ImproperlyConfigured(f"Version {self.number}: the price of {meter!r} is negative")

    @property
    def channel_label(self) -> str:
        return CHANNELS[self.channel]


def version_meter_key(meter: str, number: str) -> str:
    """The key of version `number`'s own meter for `meter` ("pages", "1.1.0" ->
    "pages_v1_1_0"): letters, digits and underscores, like every meter key, so
    it is as safe in Stripe's event names and identifiers."""
    return f"{meter}_v{re.sub(r'[^0-9a-z]+', '_', number.lower()).strip('_')}"


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str  # resolved inside the capability's namespace, e.g. "index"


class Capability:
    """What the registry serves for one capability, whether an app inside the
    portal (`CapabilityConfig`) or a separate service registered by an IT admin
    (`ServiceCapability`): its declarations and what is derived from them."""

    key: str
    summary: str = ""
    category: str = "General"
    meters: tuple[Meter, ...] = ()
    job_kinds: ClassVar[dict[str, JobKind | str]] = {}
    nav: NavEntry | None = None
    dependencies: tuple[str, ...] = ()
    version: str = "1.0.0"
    # Its releases, oldest first; none declared: one stable release, `version`.
    versions: tuple[Version, ...] = ()
    # Prices of the platform meters (per API call, per started second of a job).
    api_call_price: Decimal = Decimal("0")
    compute_second_price: Decimal = Decimal("0")
    # The quickstart demo's use of it (see `demo/`); none by default.
    demo_usage: tuple[DemoMeter, ...] = ()
    demo_reason: str = ""
    default_settings: ClassVar[dict[str, object]] = {}
    # A separate service (registered, not installed): no pages or jobs in the
    # portal; it evaluates its flag over OFREP and reports usage as CloudEvents.
    external: bool = False
    documentation_url: str = ""
    health_url: str = ""

    @property
    def title(self) -> str:
        raise NotImplementedError

    @property
    def queue(self) -> str:
        return f"cap.{self.key}"

    @property
    def own_meters(self) -> tuple[Meter, ...]:
        """Declared meters plus the platform's API-call and compute meters."""
        declared = {meter.key for meter in self.meters}
        platform = (
            Meter(API_CALLS, "API call", self.api_call_price, description="Calls made with an API key"),
            Meter(
                COMPUTE_SECONDS,
                "second",
                self.compute_second_price,
                description="Job run time, per started second",
            ),
        )
        return self.meters + tuple(meter for meter in platform if meter.key not in declared)

    @property
    def version_meters(self) -> tuple[Meter, ...]:
        """The meters of the versions that price a meter differently (`Version.prices`)."""
        own = {meter.key: meter for meter in self.own_meters}
        found = []
        for version in self.releases:
            for key, price in version.prices:
                base = own.get(key)
                if base is None:
                    continue  # refused by Registry.validate
                found.append(
                    Meter(
                        version_meter_key(key, version.number),
                        base.unit,
                        price,
                        base.currency,
                        description=f"{base.description or base.unit.capitalize()}, version {version.number}",
                        version=version.number,
                        base=key,
                    )
                )
        return tuple(found)

    @property
    def all_meters(self) -> tuple[Meter, ...]:
        """Every meter its usage is billed by: its own and its versions' own."""
        return self.own_meters + self.version_meters

    def billed_meter(self, meter: str, version: str = "") -> str:
        """The meter that units of `meter` counted by a job of version `version`
        are billed by: the version's own meter when it prices `meter`
        differently, `meter` itself otherwise."""
        if not version:
            return meter
        for release in self.releases:
            if release.number == version:
                return version_meter_key(meter, version) if meter in dict(release.prices) else meter
        return meter

    @property
    def priced_meters(self) -> tuple[PricedMeter, ...]:
        """Every meter at the price in force now, from metering's meter prices
        (which billing's price book feeds): what pages and the API show."""
        known = meter_prices.lookup()
        priced = []
        for meter in self.all_meters:
            info = known.get((self.key, meter.key))
            priced.append(
                PricedMeter(
                    key=meter.key,
                    unit=meter.unit,
                    description=meter.description,
                    aggregation=meter.aggregation,
                    unit_price=info.unit_price if info else meter.unit_price,
                    currency=info.currency if info else meter.currency,
                    scheduled_price=info.scheduled_price if info else None,
                    scheduled_from=info.scheduled_from if info else None,
                    version=meter.version,
                    base=meter.base,
                )
            )
        return tuple(priced)

    @property
    def listed_meters(self) -> tuple[PricedMeter, ...]:
        """What the catalog shows: declared meters and any priced platform meter
        (a version's own prices are shown beside the version)."""
        declared = {meter.key for meter in self.meters}
        return tuple(
            meter
            for meter in self.priced_meters
            if not meter.version and (meter.key in declared or meter.priced)
        )

    def version_prices(self, number: str) -> list[tuple[PricedMeter, PricedMeter]]:
        """The meters version `number` prices differently, each as (the
        capability's own meter, the version's), at the prices in force now."""
        priced = self.priced_meters
        own = {meter.key: meter for meter in priced if not meter.version}
        return [(own[meter.base], meter) for meter in priced if meter.version == number and meter.base in own]

    @property
    def is_paid(self) -> bool:
        """Whether using it costs anything at the prices in force now."""
        return any(meter.unit_price > 0 for meter in self.priced_meters)

    @property
    def releases(self) -> tuple[Version, ...]:
        """Its versions, oldest first (one stable release when none is declared)."""
        return self.versions or (Version(self.version, STABLE),)

    def release(self, number: str) -> Version:
        """Version `number`; LookupError if it has none of that number."""
        for version in self.releases:
            if version.number == number:
                return version
        raise LookupError(f"{self.title} has no version {number!r}")

    def latest(self, channel: str) -> Version:
        """The newest version an organization on `channel` runs: beta's newest
        beta release, or stable's when there is none newer (and stable's always)."""
        stable = [version for version in self.releases if version.channel == STABLE]
        if channel == BETA:
            newest = self.releases[-1]
            if newest.channel == BETA:
                return newest
        return stable[-1] if stable else self.releases[0]

    def is_beta(self, number: str) -> bool:
        """Whether version `number` is a beta release (False for one it doesn't have)."""
        return any(version.number == number and version.channel == BETA for version in self.releases)

    @property
    def has_beta(self) -> bool:
        return self.latest(BETA).channel == BETA

    @property
    def newest_beta(self) -> Version:
        """What an organization that opts in to beta runs (stable's newest when there is no beta)."""
        return self.latest(BETA)

    def job_kind(self, kind: str, version: str = "") -> JobKind:
        """The declaration of job kind `kind` (as version `version` changes it,
        when given); LookupError if there is none."""
        changed = dict(self.release(version).job_kinds) if version else {}
        try:
            declared = changed[kind] if kind in changed else self.job_kinds[kind]
        except KeyError:
            raise LookupError(f"{self.title} has no job kind {kind!r}") from None
        if isinstance(declared, str):
            return JobKind(function=declared, label=kind.replace("_", " ").capitalize())
        return declared if declared.label else replace(declared, label=kind.replace("_", " ").capitalize())

    @property
    def kinds_by_hand(self) -> list[tuple[str, JobKind]]:
        """The job kinds a person starts from the capability's page."""
        return [(kind, self.job_kind(kind)) for kind in self.job_kinds if self.job_kind(kind).by_hand]

    def meter(self, key: str) -> Meter:
        for meter in self.all_meters:
            if meter.key == key:
                return meter
        raise KeyError(f"{self.key} has no meter {key!r}")


class CapabilityConfig(Capability, AppConfig):
    """Base class of a capability app's AppConfig. Subclasses declare:

    key          stable identifier, also the URL segment and the queue `cap.<key>`
    verbose_name the name shown in the catalog
    summary      one line for the catalog card
    category     groups cards in the catalog
    meters       the meters its usage is billed by
    job_kinds    job kind -> its JobKind (or just the dotted path of a job
                 function that takes no input)
    nav          its entry in the navigation, or None
    dependencies keys of the capabilities it needs switched on
    version      the app's version
    demo_usage   its meters' working day in the quickstart demo's history
    demo_reason  why a demo owner switches it on (shown in the toggle history)
    default_settings
                 its settings, NAME -> default (a value, or a function of the
                 Django settings), read with
                 `capabilities.capability_settings.capability_setting(key, NAME)`;
                 operators override one with the environment variable
                 `<KEY>_<NAME>`

    and may override `demo_content` to add sample content to the demo.
    """

    # Django picks the one AppConfig subclass in an app's apps.py; the imported
    # base must not count as a candidate, while every subclass does.
    default = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "default" not in cls.__dict__:
            cls.default = True

    def demo_content(self, organization: Organization, actor: User) -> list[str]:
        """Create the capability's sample content for the quickstart demo as
        `actor` of `organization`, through the capability's own actions (its
        jobs run where Celery runs them), and return one line per thing made.
        Called by `seed_demo` on every run: nothing is made twice."""
        return []

    @property
    def title(self) -> str:
        return str(self.verbose_name)

    def urls_module(self) -> str:
        return f"{self.name}.urls"

    def api_urls_module(self) -> str:
        return f"{self.name}.api.urls"


class ServiceCapability(Capability):
    """An external capability (capabilities.models.ExternalCapability) as the
    registry serves it: declared in the database by an IT admin, run elsewhere."""

    external = True

    def __init__(
        self,
        *,
        key: str,
        name: str,
        summary: str = "",
        category: str = "Services",
        meters: tuple[Meter, ...] = (),
        dependencies: tuple[str, ...] = (),
        version: str = "1.0.0",
        documentation_url: str = "",
        health_url: str = "",
        retired: bool = False,
        beta_version: str = "",
        beta_notes: str = "",
    ) -> None:
        self.key = key
        self.name = name
        self.summary = summary
        self.category = category
        self.meters = meters
        self.dependencies = dependencies
        self.version = version
        self.documentation_url = documentation_url
        self.health_url = health_url
        self.retired = retired
        if beta_version:
            self.versions = (Version(version), Version(beta_version, BETA, notes=beta_notes))

    @property
    def title(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<ServiceCapability {self.key}>"


@dataclass
class Registry:
    """The capabilities in service (`capabilities`), and external ones that
    were retired (`retired`): out of the catalog and the toggle rules, but
    their names, meters and prices still serve history, usage and billing."""

    capabilities: dict[str, Capability] = field(default_factory=dict)
    retired: dict[str, Capability] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Capability]:
        return iter(sorted(self.capabilities.values(), key=lambda c: (c.category, c.title)))

    def __len__(self) -> int:
        return len(self.capabilities)

    def __contains__(self, key: object) -> bool:
        return key in self.capabilities

    def get(self, key: str) -> Capability:
        try:
            return self.capabilities[key]
        except KeyError:
            raise LookupError(f"No capability {key!r} is installed") from None

    def known(self, key: str) -> Capability | None:
        """Capability `key`, in service or retired; None if there never was one
        (or its app was uninstalled)."""
        return self.capabilities.get(key) or self.retired.get(key)

    def title_of(self, key: str) -> str:
        """What people call capability `key`, retired ones included."""
        known = self.known(key)
        return known.title if known is not None else key

    def billable(self) -> Iterator[Capability]:
        """Every capability whose usage may still be billed: in service or retired."""
        yield from self
        yield from sorted(self.retired.values(), key=lambda c: c.key)

    def keys(self) -> list[str]:
        return sorted(self.capabilities)

    def apps(self) -> list[CapabilityConfig]:
        """The capabilities installed as Django apps (their pages, jobs, queues)."""
        return [capability for capability in self if isinstance(capability, CapabilityConfig)]

    def requirements(self, key: str) -> list[str]:
        """Every capability `key` needs, directly or through others, nearest first."""
        found: list[str] = []
        pending = list(self.get(key).dependencies)
        while pending:
            dependency = pending.pop(0)
            if dependency not in found:
                found.append(dependency)
                pending.extend(self.get(dependency).dependencies)
        return found

    def dependents(self, key: str) -> list[str]:
        """Every capability that needs `key`, directly or through others."""
        return [other for other in self.keys() if key in self.requirements(other)]

    def validate(self) -> None:
        for capability in self.capabilities.values():
            for dependency in capability.dependencies:
                if dependency not in self.capabilities:
                    raise ImproperlyConfigured(
                        f"Capability {capability.key!r} depends on {dependency!r}, which is not installed"
                    )
            for usage in capability.demo_usage:
                if usage.meter not in {meter.key for meter in capability.all_meters}:
                    raise ImproperlyConfigured(
                        f"Capability {capability.key!r}: demo_usage names a meter it lacks, {usage.meter!r}"
                    )
            numbers = [version.number for version in capability.releases]
            for number in numbers:
                if not VERSION_NUMBER.fullmatch(number):
                    raise ImproperlyConfigured(
                        f"Capability {capability.key!r}: {number!r} is not a version number"
                    )
            if capability.versions:
                if not any(version.channel == STABLE for version in capability.versions):
                    raise ImproperlyConfigured(f"Capability {capability.key!r}: no stable version")
                # `version` says the release everyone runs by default.
                capability.version = capability.latest(STABLE).number
            if len(set(numbers)) != len(numbers):
                raise ImproperlyConfigured(f"Capability {capability.key!r} declares a version twice")
            own = {meter.key for meter in capability.own_meters}
            for version in capability.releases:
                for meter, _ in version.prices:
                    if meter not in own:
                        raise ImproperlyConfigured(
                            f"Capability {capability.key!r} {version.number}: prices {meter!r}, "
                            "which is not one of its meters"
                        )
                    if meter == API_CALLS:
                        raise ImproperlyConfigured(
                            f"Capability {capability.key!r} {version.number}: API calls are billed at the "
                            "capability's price, whichever version an organization runs"
                        )
                    derived = version_meter_key(meter, version.number)
                    if derived in own:
                        raise ImproperlyConfigured(
                            f"Capability {capability.key!r} {version.number}: its own meter for {meter!r} "
                            f"would be {derived!r}, which it declares already"
                        )
            keys = [meter.key for meter in capability.all_meters]
            if len(set(keys)) != len(keys):
                raise ImproperlyConfigured(
                    f"Capability {capability.key!r}: two versions' numbers give their meters the same key"
                )
            for version in capability.releases:
                for kind, _ in version.job_kinds:
                    if kind not in capability.job_kinds:
                        raise ImproperlyConfigured(
                            f"Capability {capability.key!r} {version.number}: changes {kind!r}, "
                            "which is not one of its job kinds"
                        )
        for key in self.capabilities:
            if key in self.requirements(key):
                raise ImproperlyConfigured(
                    f"Capability {key!r} depends on itself through {self.requirements(key)}"
                )

    def with_service(self, service: ServiceCapability) -> Registry:
        """This registry with `service` added or replacing its earlier entry
        (retired ones go to `retired`): what a registration or change would make."""
        capabilities = {key: c for key, c in self.capabilities.items() if key != service.key}
        retired = {key: c for key, c in self.retired.items() if key != service.key}
        (retired if service.retired else capabilities)[service.key] = service
        return Registry(capabilities, retired)


@functools.cache
def app_registry() -> Registry:
    """The capabilities installed as apps, built once the app registry is ready."""
    apps.check_apps_ready()
    found = Registry()
    for config in apps.get_app_configs():
        if isinstance(config, CapabilityConfig):
            if not getattr(config, "key", None):
                raise ImproperlyConfigured(f"{config.name}: a CapabilityConfig needs a key")
            if config.key in found.capabilities:
                raise ImproperlyConfigured(f"Two capability apps declare the key {config.key!r}")
            found.capabilities[config.key] = config
    found.validate()
    return found


# External capabilities live in the database, and every request and job asks
# the registry, so this process keeps them like the toggle gate keeps its
# snapshots: trusted for STALENESS seconds, then one cache read of a version
# stamp confirms them or reloads them (one query). A change writes a new stamp
# after it commits (`announce_change`), so every process sees it within the
# gate's bound; the process that made it sees it at once.
_STAMP_KEY = "capabilities:services:v"
# Services are reread at least this often whatever the stamp says, so a change
# whose stamp was lost (the cache down as it committed) is seen within it. Long,
# because services change rarely and the reread is a query: it happens at the
# first question after it runs out, never between two close ones.
MAX_AGE = 600.0


@dataclass
class _Loaded:
    registry: Registry
    version: str
    validated_at: float
    loaded_at: float


_loaded: _Loaded | None = None
_lock = threading.RLock()
_clock = time.monotonic
logger = logging.getLogger(__name__)


def registry() -> Registry:
    """Every capability: the installed apps and the registered services."""
    loaded = _loaded
    if loaded is not None:
        now = _clock()
        if now - loaded.validated_at <= STALENESS and now - loaded.loaded_at < MAX_AGE:
            return loaded.registry
    return _refresh()


def _refresh() -> Registry:
    global _loaded
    with _lock:
        now = _clock()
        loaded = _loaded
        try:
            version = _stamp()
        except Exception:
            # The cache is down: read the services from the database each time.
            logger.warning("Capability stamps unreachable; reading services from the database", exc_info=True)
            version = ""
        if loaded is not None and version and loaded.version == version and now - loaded.loaded_at < MAX_AGE:
            loaded.validated_at = now
            return loaded.registry
        services = _load_services()
        if services is None:
            # No database yet (before migrations, or a test without one): the
            # apps alone, asked again after STALENESS.
            _loaded = _Loaded(app_registry(), "", now, now - MAX_AGE)
            return _loaded.registry
        found = app_registry()
        for service in services:
            if service.key in found.capabilities and not isinstance(
                found.capabilities[service.key], ServiceCapability
            ):
                logger.error("Service %r has the key of an installed app; the app wins", service.key)
                continue
            found = found.with_service(service)
        try:
            found.validate()
        except ImproperlyConfigured:
            # A registration is validated before it is saved; should the rows
            # disagree anyway (an app uninstalled under a dependent service),
            # the services whose needs are missing are left out, not the portal.
            logger.exception("Registered services do not fit the installed apps; leaving the broken ones out")
            found = _without_broken(found)
        _loaded = _Loaded(found, version, now, now)
        return found


def _without_broken(found: Registry) -> Registry:
    while True:
        broken = [
            capability.key
            for capability in found.capabilities.values()
            if capability.external and any(d not in found.capabilities for d in capability.dependencies)
        ]
        if not broken:
            return found
        found = Registry(
            {key: c for key, c in found.capabilities.items() if key not in broken}, found.retired
        )


def _stamp() -> str:
    version = cache.get(_STAMP_KEY)
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(_STAMP_KEY, version, timeout=None):
            version = cache.get(_STAMP_KEY) or version
    return str(version)


def _load_services() -> list[ServiceCapability] | None:
    """The registered services from the database (one query), or None when
    there is no database to ask."""
    from django.db import DatabaseError, connection, transaction

    from capabilities.models import ExternalCapability

    try:
        if connection.in_atomic_block:
            # A failed read must not break the caller's transaction.
            with transaction.atomic():
                rows = list(ExternalCapability.objects.prefetch_related("meters"))
        else:
            rows = list(ExternalCapability.objects.prefetch_related("meters"))
    except (DatabaseError, RuntimeError):  # RuntimeError: a test without database access
        return None
    return [service_of(row) for row in rows]


def service_of(row: ExternalCapability) -> ServiceCapability:
    """The registry entry of a registered service."""
    return ServiceCapability(
        key=row.key,
        name=row.name,
        summary=row.summary,
        category=row.category,
        meters=tuple(
            Meter(meter.key, meter.unit, meter.unit_price, meter.currency, description=meter.description)
            for meter in row.meters.all()
        ),
        dependencies=tuple(row.dependencies),
        version=row.version,
        documentation_url=row.documentation_url,
        health_url=row.health_url,
        retired=row.is_retired,
        beta_version=row.beta_version,
        beta_notes=row.beta_notes,
    )


def forget_services() -> None:
    """This process rereads the services at its next question (the process
    that changed them: at once, even inside the change's transaction)."""
    global _loaded
    with _lock:
        _loaded = None


def announce_change() -> None:
    """After a registration, change or retirement commits: every process
    rereads the services within STALENESS."""
    try:
        cache.set(_STAMP_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning(
            "Could not announce a service change; processes see it within %s s", MAX_AGE, exc_info=True
        )


def reset_for_tests() -> None:
    """The apps alone, trusted until the stamp changes (tests: each starts
    with no services, whatever the one before registered and rolled back)."""
    global _loaded
    try:
        version = _stamp()
    except Exception:
        logger.warning("Capability stamps unreachable", exc_info=True)
        version = ""
    now = _clock()
    with _lock:
        _loaded = _Loaded(app_registry(), version, now, now)
