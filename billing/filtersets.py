"""Filters of the reconciliation lines (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from billing.models import ReconciliationLine


class LineFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=ReconciliationLine.Status.choices, empty_label="Every status"
    )
    organization = django_filters.CharFilter(method="search", label="Organization")
    capability = django_filters.CharFilter(label="Capability key")

    class Meta:
        model = ReconciliationLine
        fields = ["status", "organization", "capability"]

    def search(
        self, queryset: QuerySet[ReconciliationLine], name: str, value: str
    ) -> QuerySet[ReconciliationLine]:
        return queryset.filter(
            Q(organization__name__icontains=value) | Q(organization__slug__icontains=value)
        )
