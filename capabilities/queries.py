"""Read models of the catalog, capability pages, the API and IT admin pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from capabilities.models import FeatureToggle, ToggleChange
from capabilities.registry import CapabilityConfig, registry
from portal.models import Organization


@dataclass(frozen=True)
class CatalogEntry:
    capability: CapabilityConfig
    enabled: bool
    locked: bool
    locked_reason: str
    dependencies: list[CapabilityConfig]
    missing_dependencies: list[CapabilityConfig]

    @property
    def key(self) -> str:
        return self.capability.key


def catalog(organization: Organization) -> list[CatalogEntry]:
    """Every installed capability with its state for `organization` (one query)."""
    rows = {row.capability_key: row for row in FeatureToggle.objects.filter(organization=organization)}
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
            )
        )
    return entries


def catalog_entry(organization: Organization, key: str) -> CatalogEntry:
    registry().get(key)
    return next(entry for entry in catalog(organization) if entry.key == key)


def history(organization: Organization, key: str) -> QuerySet[ToggleChange]:
    return ToggleChange.objects.filter(organization=organization, capability_key=key).order_by("-at", "-id")
