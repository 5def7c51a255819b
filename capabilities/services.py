"""External capabilities: services that run elsewhere, in any language, and
plug into the portal's toggles, budgets, metering and Stripe billing.

An IT admin registers one (its key, name, meters with default prices,
dependencies, a documentation link and a health URL); from the next question
to the registry on it is a capability like the apps. Its service holds
credentials (shown once, stored hashed) that evaluate its own flag over OFREP
and report its own usage as CloudEvents. Retiring one switches it off for
every organization and hides it from the catalog; its history, usage and
prices stay.

Every function here is an action: it validates, writes inside one
transaction, audits, and announces the change to every process after commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import cast

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from capabilities.gate import bump_version
from capabilities.models import (
    KEY_PATTERN,
    ExternalCapability,
    ExternalMeter,
    FeatureToggle,
    ServiceCredential,
    ToggleChange,
)
from capabilities.registry import (
    API_CALLS,
    COMPUTE_SECONDS,
    VERSION_NUMBER,
    ServiceCapability,
    announce_change,
    app_registry,
    forget_services,
    registry,
    service_of,
)
from portal.actions.errors import ActionError
from portal.audit import Origin, record_audit
from portal.models import User

MAX_METERS = 20
PRICE_PLACES = 6  # the price book's precision
CURRENCIES = ("usd", "eur", "gbp")


@dataclass
class MeterSpec:
    key: str
    unit: str
    unit_price: Decimal
    currency: str = "usd"
    description: str = ""


@dataclass
class ServiceSpec:
    """What an IT admin declares about a service (the page's form and the API's body)."""

    key: str
    name: str
    summary: str = ""
    category: str = "Services"
    dependencies: list[str] = field(default_factory=list)
    documentation_url: str = ""
    health_url: str = ""
    version: str = "1.0.0"
    meters: list[MeterSpec] = field(default_factory=list)
    beta_version: str = ""  # a version organizations can opt in to; "" for none
    beta_notes: str = ""


class InvalidService(ActionError):
    """A declaration refused: one message per field, for the form and the API."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(iter(errors.values()))[0]
        super().__init__(first, "invalid_service")
        self.errors = errors


def _require_it_admin(actor: User) -> None:
    if not actor.is_staff:
        raise ActionError("Only IT admins register and change external capabilities.", "it_admin_required")


def check(spec: ServiceSpec, current: ExternalCapability | None = None) -> None:
    """InvalidService with every problem of `spec`, as a registration (no
    `current`) or a change of `current`."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if current is None:
        if not re.fullmatch(KEY_PATTERN, spec.key or ""):
            add(
                "key",
                "2 to 40 characters: lower-case letters, digits and underscores, starting with a letter.",
            )
        elif spec.key in app_registry():
            add("key", f"{spec.key!r} is the key of a capability installed in the portal.")
        elif ExternalCapability.objects.filter(key=spec.key).exists():
            add(
                "key",
                f"An external capability with the key {spec.key!r} is registered already (perhaps retired).",
            )
    elif spec.key != current.key:
        add("key", "A capability's key never changes: its toggles, usage and Stripe meters are keyed by it.")
    if not spec.name.strip():
        add("name", "Give it a name people will recognise in the catalog.")
    elif len(spec.name) > 80:
        add("name", "At most 80 characters.")
    if len(spec.summary) > 200:
        add("summary", "At most 200 characters.")
    if not spec.category.strip() or len(spec.category) > 60:
        add("category", "A category of 1 to 60 characters groups its card in the catalog.")
    if not VERSION_NUMBER.fullmatch(spec.version.strip()):
        add("version", "A version of 1 to 40 letters, digits, dots, plus or minus signs, e.g. 1.0.0.")
    beta = spec.beta_version.strip()
    if beta and not VERSION_NUMBER.fullmatch(beta):
        add(
            "beta_version",
            "A version of 1 to 40 letters, digits, dots, plus or minus signs, e.g. 2.0.0-beta.",
        )
    elif beta and beta == spec.version.strip():
        add("beta_version", "The beta must be another version than the stable one.")
    if len(spec.beta_notes) > 300:
        add("beta_notes", "At most 300 characters.")
    elif spec.beta_notes.strip() and not beta:
        add("beta_notes", "Release notes are for a beta version: give its number too.")
    for name in ("documentation_url", "health_url"):
        url = getattr(spec, name)
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url)
            except ValidationError:
                add(name, "An http:// or https:// address.")
            if len(url) > 500:
                add(name, "At most 500 characters.")
    _check_meters(spec, current, add)
    _check_dependencies(spec, current, add)
    if errors:
        raise InvalidService(errors)


Complaint = Callable[[str, str], None]


def _check_meters(spec: ServiceSpec, current: ExternalCapability | None, add: Complaint) -> None:
    seen: set[str] = set()
    if len(spec.meters) > MAX_METERS:
        add("meters", f"At most {MAX_METERS} meters.")
    for index, meter in enumerate(spec.meters, start=1):
        where = f"Meter {index}" + (f" ({meter.key})" if meter.key else "")
        if not re.fullmatch(KEY_PATTERN, meter.key or ""):
            add("meters", f"{where}: a key of 2 to 40 lower-case letters, digits and underscores.")
        elif meter.key in (API_CALLS, COMPUTE_SECONDS):
            add("meters", f"{where}: {meter.key} is a meter the platform records itself.")
        elif meter.key in seen:
            add("meters", f"{where}: the key {meter.key} is declared twice.")
        seen.add(meter.key)
        if not meter.unit.strip() or len(meter.unit) > 40:
            add("meters", f"{where}: name its unit in the singular (1 to 40 characters), e.g. page.")
        if len(meter.description) > 200:
            add("meters", f"{where}: a description of at most 200 characters.")
        if meter.currency not in CURRENCIES:
            add("meters", f"{where}: the currency is one of {', '.join(CURRENCIES)}.")
        price = meter.unit_price
        if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
            add("meters", f"{where}: the price per unit is a number of zero or more.")
        else:
            exponent = price.normalize().as_tuple().exponent
            if isinstance(exponent, int) and -exponent > PRICE_PLACES:
                add("meters", f"{where}: a price has at most {PRICE_PLACES} decimal places.")
            elif price >= Decimal("1000000"):
                add("meters", f"{where}: a price per unit below 1,000,000.")
    if current is not None:
        declared = {row.key: row for row in current.meters.all()}
        given = {meter.key: meter for meter in spec.meters}
        for key, row in declared.items():
            if key not in given:
                add("meters", f"The meter {key} has usage history; it can't be removed (set its price to 0).")
            elif given[key].unit != row.unit:
                add("meters", f"The meter {key}'s unit can't change once declared.")


def _check_dependencies(spec: ServiceSpec, current: ExternalCapability | None, add: Complaint) -> None:
    installed = registry()
    for dependency in spec.dependencies:
        if dependency == spec.key:
            add("dependencies", "A capability can't depend on itself.")
        elif dependency not in installed:
            add("dependencies", f"There is no capability {dependency!r} in service.")
    if len(set(spec.dependencies)) != len(spec.dependencies):
        add("dependencies", "A dependency is named twice.")
    if current is not None and all(d != spec.key and d in installed for d in spec.dependencies):
        trial = installed.with_service(
            ServiceCapability(key=spec.key, name=spec.name, dependencies=tuple(spec.dependencies))
        )
        if spec.key in trial.requirements(spec.key):
            add(
                "dependencies", f"That makes a cycle: {spec.name} would need itself through its dependencies."
            )


def register(actor: User, spec: ServiceSpec, *, origin: Origin | None = None) -> ExternalCapability:
    """Register a service as a capability."""
    _require_it_admin(actor)
    check(spec)
    now = timezone.now()
    try:
        with transaction.atomic():
            service = ExternalCapability.objects.create(
                key=spec.key,
                name=spec.name.strip(),
                summary=spec.summary.strip(),
                category=spec.category.strip(),
                dependencies=list(spec.dependencies),
                documentation_url=spec.documentation_url,
                health_url=spec.health_url,
                version=spec.version.strip(),
                beta_version=spec.beta_version.strip(),
                beta_notes=spec.beta_notes.strip(),
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            _save_meters(service, spec.meters)
            record_audit(
                actor,
                "capability.service_registered",
                target=service,
                origin=origin,
                details=_details(spec),
            )
            transaction.on_commit(announce_change)
    except IntegrityError:
        raise InvalidService(
            {"key": [f"An external capability with the key {spec.key!r} is registered already."]}
        ) from None
    forget_services()
    return service


def change(
    actor: User, service: ExternalCapability, spec: ServiceSpec, *, origin: Origin | None = None
) -> ExternalCapability:
    """Change a registered service's declaration (its key and meters' units stay)."""
    _require_it_admin(actor)
    if service.is_retired:
        raise ActionError(f"{service.name} is retired; it can't be changed.", "service_retired")
    check(spec, service)
    with transaction.atomic():
        service = ExternalCapability.objects.select_for_update().get(pk=service.pk)
        before = _details(spec_of(service))
        service.name = spec.name.strip()
        service.summary = spec.summary.strip()
        service.category = spec.category.strip()
        service.dependencies = list(spec.dependencies)
        service.documentation_url = spec.documentation_url
        service.health_url = spec.health_url
        service.version = spec.version.strip()
        service.beta_version = spec.beta_version.strip()
        service.beta_notes = spec.beta_notes.strip()
        service.updated_at = timezone.now()
        service.save()
        known = {meter.key: meter for meter in service.meters.all()}
        for meter in spec.meters:
            row = known.get(meter.key)
            if row is None:
                _save_meters(service, [meter])
            elif (row.description, row.unit_price, row.currency) != (
                meter.description,
                meter.unit_price,
                meter.currency,
            ):
                # The default price seeds the price book once; the price in
                # force is the price book's (finance changes it there).
                row.description = meter.description
                row.unit_price = meter.unit_price
                row.currency = meter.currency
                row.save()
        record_audit(
            actor,
            "capability.service_changed",
            target=service,
            origin=origin,
            details={"before": before, "after": _details(spec)},
        )
        transaction.on_commit(announce_change)
    forget_services()
    return service


def retire(actor: User, service: ExternalCapability, *, reason: str, origin: Origin | None = None) -> int:
    """Retire a service: out of the catalog, switched off for every
    organization (each change in its toggle history); its usage, prices and
    history stay. Returns how many organizations had it on."""
    _require_it_admin(actor)
    reason = reason.strip()[:300]
    if not reason:
        raise ActionError(
            "Say why it is retired: the organizations that used it see the reason.", "reason_required"
        )
    if service.is_retired:
        raise ActionError(f"{service.name} is retired already.", "service_retired")
    dependents = [registry().title_of(key) for key in registry().dependents(service.key)]
    if dependents:
        raise ActionError(
            f"{', '.join(dependents)} {'needs' if len(dependents) == 1 else 'need'} {service.name}: "
            "retire or change them first.",
            "dependents_in_service",
        )
    now = timezone.now()
    with transaction.atomic():
        service = ExternalCapability.objects.select_for_update().get(pk=service.pk)
        service.retired_at = now
        service.retired_reason = reason
        service.updated_at = now
        service.save()
        toggles = list(
            FeatureToggle.objects.select_for_update()
            .select_related("organization")
            .filter(capability_key=service.key, enabled=True)
        )
        why = f"Retired by the platform: {reason}"[:300]
        for toggle in toggles:
            toggle.enabled = False
            toggle.updated_by = actor
            toggle.updated_at = now
            toggle.save(update_fields=["enabled", "updated_by", "updated_at"])
            ToggleChange.objects.create(
                organization=toggle.organization,
                capability_key=service.key,
                from_enabled=True,
                to_enabled=False,
                locked=toggle.locked,
                actor=actor,
                actor_email=actor.email,
                reason=why,
                source=ToggleChange.Source.IT_ADMIN,
                at=now,
            )
        # Every credential stops working with it.
        revoked = ServiceCredential.objects.filter(capability=service, revoked=False).update(
            revoked=True, revoked_at=now
        )
        record_audit(
            actor,
            "capability.service_retired",
            target=service,
            origin=origin,
            details={
                "key": service.key,
                "reason": reason,
                "switched_off": len(toggles),
                "credentials_revoked": revoked,
            },
        )
        organizations = [toggle.organization_id for toggle in toggles]

        def announce() -> None:
            announce_change()
            for organization_id in organizations:
                bump_version(organization_id)

        transaction.on_commit(announce)
    forget_services()
    return len(toggles)


def issue_credential(
    actor: User, service: ExternalCapability, *, name: str, origin: Origin | None = None
) -> tuple[ServiceCredential, str]:
    """A new credential for `service`'s service, and its secret (shown once)."""
    _require_it_admin(actor)
    if service.is_retired:
        raise ActionError(f"{service.name} is retired; it takes no new credentials.", "service_retired")
    name = name.strip()[:50] or f"{service.key} service"
    with transaction.atomic():
        created, secret = ServiceCredential.objects.create_key(
            name=name, capability=service, created_by=actor
        )
        credential = cast(ServiceCredential, created)
        record_audit(
            actor,
            "capability.credential_issued",
            target=service,
            origin=origin,
            details={"key": service.key, "credential": credential.prefix, "name": name},
        )
    return credential, secret


def revoke_credential(actor: User, credential: ServiceCredential, *, origin: Origin | None = None) -> None:
    """Revoke a credential: refused everywhere within the flag cache's bound."""
    _require_it_admin(actor)
    if credential.revoked:
        raise ActionError("This credential is revoked already.", "credential_revoked")
    with transaction.atomic():
        credential.revoked = True
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["revoked", "revoked_at"])
        record_audit(
            actor,
            "capability.credential_revoked",
            target=credential.capability,
            origin=origin,
            details={
                "key": credential.capability.key,
                "credential": credential.prefix,
                "name": credential.name,
            },
        )


def rotate_credential(
    actor: User, credential: ServiceCredential, *, origin: Origin | None = None
) -> tuple[ServiceCredential, str]:
    """Replace a credential: a new secret under the same name, the old one revoked."""
    with transaction.atomic():
        revoke_credential(actor, credential, origin=origin)
        return issue_credential(actor, credential.capability, name=credential.name, origin=origin)


def _save_meters(service: ExternalCapability, meters: list[MeterSpec]) -> None:
    ExternalMeter.objects.bulk_create(
        ExternalMeter(
            capability=service,
            key=meter.key,
            unit=meter.unit.strip(),
            unit_price=meter.unit_price,
            currency=meter.currency,
            description=meter.description.strip(),
        )
        for meter in meters
    )


def spec_from(data: dict[str, object]) -> ServiceSpec:
    """A ServiceSpec from validated form or API data (meters as dicts)."""
    meters = []
    for given in data.get("meters") or []:  # type: ignore[attr-defined]
        try:
            price = Decimal(str(given.get("unit_price", "")))
        except InvalidOperation:
            price = Decimal("NaN")
        meters.append(
            MeterSpec(
                key=str(given.get("key", "")).strip(),
                unit=str(given.get("unit", "")).strip(),
                unit_price=price,
                currency=str(given.get("currency") or "usd").lower(),
                description=str(given.get("description") or ""),
            )
        )
    return ServiceSpec(
        key=str(data.get("key", "")).strip(),
        name=str(data.get("name", "")),
        summary=str(data.get("summary") or ""),
        category=str(data.get("category") or "Services"),
        dependencies=[str(key) for key in data.get("dependencies") or []],  # type: ignore[attr-defined]
        documentation_url=str(data.get("documentation_url") or ""),
        health_url=str(data.get("health_url") or ""),
        version=str(data.get("version") or "1.0.0"),
        meters=meters,
        beta_version=str(data.get("beta_version") or ""),
        beta_notes=str(data.get("beta_notes") or ""),
    )


def spec_of(service: ExternalCapability) -> ServiceSpec:
    """The declaration of a registered service, as a form or the API shows it."""
    entry = service_of(service)
    return ServiceSpec(
        key=entry.key,
        name=entry.name,
        summary=entry.summary,
        category=entry.category,
        dependencies=list(entry.dependencies),
        documentation_url=entry.documentation_url,
        health_url=entry.health_url,
        version=entry.releases[0].number,
        meters=[MeterSpec(m.key, m.unit, m.unit_price, m.currency, m.description) for m in entry.meters],
        beta_version=service.beta_version,
        beta_notes=service.beta_notes,
    )


def _details(spec: ServiceSpec) -> dict[str, object]:
    return {
        "key": spec.key,
        "name": spec.name,
        "category": spec.category,
        "dependencies": list(spec.dependencies),
        "documentation_url": spec.documentation_url,
        "health_url": spec.health_url,
        "version": spec.version,
        "beta_version": spec.beta_version,
        "meters": [
            {"key": m.key, "unit": m.unit, "unit_price": str(m.unit_price), "currency": m.currency}
            for m in spec.meters
        ],
    }


class CredentialRefused(Exception):
    """A service credential that is unknown, revoked, or of a retired service."""


def verified_credential(secret: str) -> ServiceCredential | None:
    """The valid service credential whose full secret is `secret` (its last use
    noted), None when the secret is not a service credential at all (the
    caller tries an organization API key next), or CredentialRefused when it
    is one that no longer works."""
    prefix = secret.partition(".")[0]
    credential = ServiceCredential.objects.select_related("capability").filter(prefix=prefix).first()
    if credential is None or not credential.is_valid(secret):
        return None
    if credential.revoked:
        raise CredentialRefused("This service credential was revoked.")
    if credential.capability.is_retired:
        raise CredentialRefused(f"{credential.capability.name} is retired; its credentials no longer work.")
    if credential.has_expired:
        raise CredentialRefused("This service credential has expired.")
    now = timezone.now()
    if credential.last_used_at is None or (now - credential.last_used_at).total_seconds() > 60:
        ServiceCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    return credential
