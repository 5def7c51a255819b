"""Filters of the jobs list (django-filter)."""

import django_filters
from django import forms

from capabilities.models import Job
from capabilities.registry import registry


def _capability_choices() -> list[tuple[str, str]]:
    return [(capability.key, capability.title) for capability in registry()]


class JobFilter(django_filters.FilterSet):
    capability = django_filters.ChoiceFilter(choices=_capability_choices, empty_label="All capabilities")
    status = django_filters.ChoiceFilter(choices=Job.Status.choices, empty_label="Any status")
    since = django_filters.DateFilter(
        field_name="queued_at",
        lookup_expr="date__gte",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="queued_at",
        lookup_expr="date__lte",
        label="Until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Job
        fields = ["capability", "status", "since", "until"]
