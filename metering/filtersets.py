"""Filters of the finance dashboard (over rollups) and of the usage events API
(over the ledger), with django-filter."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from metering import meter_prices
from metering.models import UsageEvent, UsageRollup
from metering.queries.finance import search_organizations
from portal.api.filters import MomentFilter


def capability_choices() -> list[tuple[str, str]]:
    titles = {info.capability: info.capability_title for info in meter_prices.meters()}
    return sorted(titles.items(), key=lambda item: item[1].lower())


def meter_key_choices() -> list[tuple[str, str]]:
    return [(key, key) for key in sorted({info.meter for info in meter_prices.meters()})]


class FinanceFilter(django_filters.FilterSet):
    capability = django_filters.ChoiceFilter(choices=capability_choices, empty_label="All capabilities")
    meter = django_filters.ChoiceFilter(choices=meter_key_choices, empty_label="All meters")
    organization = django_filters.CharFilter(method="search", label="Organization")

    class Meta:
        model = UsageRollup
        fields = ["capability", "meter", "organization"]

    def search(self, queryset: QuerySet[UsageRollup], name: str, value: str) -> QuerySet[UsageRollup]:
        return search_organizations(queryset, value)


class UsageEventFilter(django_filters.FilterSet):
    capability = django_filters.CharFilter(help_text="Only this capability's events (its key).")
    meter = django_filters.CharFilter(help_text="Only this meter's events.")
    since = MomentFilter(
        field_name="occurred_at",
        lookup_expr="gte",
        help_text="Events that occurred at or after this ISO 8601 time (UTC unless it says otherwise).",
    )
    until = MomentFilter(
        field_name="occurred_at",
        lookup_expr="lt",
        help_text="Events that occurred before this ISO 8601 time.",
    )

    class Meta:
        model = UsageEvent
        fields = ["capability", "meter", "since", "until"]
