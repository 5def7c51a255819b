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
    auto_renews = django_filters.BooleanFilter(
        label="Renews automatically",
        widget=django_filters.widgets.BooleanWidget(),
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

    def filter_deadline_within(
        self, queryset: QuerySet[Contract], name: str, value: str
    ) -> QuerySet[Contract]:
        today = timezone.localdate()
        return queryset.filter(
            notice_deadline__gte=today, notice_deadline__lte=today + timedelta(days=int(value))
        )
