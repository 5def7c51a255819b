"""Filters of the contracts table (django-filter), shared by the page, the CSV
export and the API: renews automatically, deadline within 30/60/90 days."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from capabilities.contracts.models import Contract

WITHIN_CHOICES = [("30", "Next 30 days"), ("60", "Next 60 days"), ("90", "Next 90 days")]


class ContractFilter(django_filters.FilterSet):
    # A choice, not a BooleanFilter: its widget reads any other word as "no
    # filter", where the API must refuse `auto_renews=maybe`.
    auto_renews = django_filters.ChoiceFilter(
        label="Renews automatically",
        choices=[("true", "Yes"), ("false", "No")],
        empty_label="Either",
        method="filter_auto_renews",
    )
    deadline_within = django_filters.ChoiceFilter(
        label="Notice deadline",
        choices=WITHIN_CHOICES,
        empty_label="Any time",
        method="filter_deadline_within",
    )

    class Meta:
        model = Contract
        fields = ["auto_renews", "deadline_within"]

    def filter_auto_renews(self, queryset: QuerySet[Contract], name: str, value: str) -> QuerySet[Contract]:
        return queryset.filter(auto_renews=value == "true")

    def filter_deadline_within(
        self, queryset: QuerySet[Contract], name: str, value: str
    ) -> QuerySet[Contract]:
        today = timezone.localdate()
        return queryset.filter(
            next_notice_deadline__gte=today, next_notice_deadline__lte=today + timedelta(days=int(value))
        )
