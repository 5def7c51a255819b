"""Filters of the IT admin lists (django-filter)."""

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from portal.models import AuditEntry, Organization


class OrganizationFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=Organization.Status.choices, empty_label="Any status")

    class Meta:
        model = Organization
        fields = ["q", "status"]

    def search(self, queryset: QuerySet[Organization], name: str, value: str) -> QuerySet[Organization]:
        return queryset.filter(
            Q(name__icontains=value) | Q(slug__icontains=value) | Q(memberships__user__email__icontains=value)
        ).distinct()


class AuditFilter(django_filters.FilterSet):
    organization = django_filters.ModelChoiceFilter(
        queryset=Organization.objects.order_by("name"), empty_label="All organizations"
    )
    actor = django_filters.CharFilter(field_name="actor_email", lookup_expr="icontains", label="Actor email")
    action = django_filters.CharFilter(lookup_expr="istartswith", label="Action starts with")
    since = django_filters.DateFilter(
        field_name="at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        field_name="at",
        lookup_expr="date__lte",
        label="Until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEntry
        fields = ["organization", "actor", "action", "since", "until"]
