"""Query filters of the API's lists (django-filter), strict where the pages'
forms are lenient: an empty value for a filter that is not free text (a date,
a choice) is refused rather than read as "no filter", and a moment must be an
RFC 3339 date-time or a day, as the schema says."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions
from rest_framework.request import Request

# RFC 3339's date-time (seconds and an offset required), or a full date.
MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}([Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?", flags=re.ASCII
)


class MomentField(IsoDateTimeField):
    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value and not MOMENT.fullmatch(value):
            raise forms.ValidationError(
                "Give a date and time like 2026-11-01T09:30:00Z, or a day like 2026-11-01.", code="invalid"
            )
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            # In UTC: PostgreSQL takes offsets up to 15:59 only, RFC 3339 up to 23:59.
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("This moment is out of range.", code="invalid") from None


@extend_schema_field(
    {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}],
        "description": "An RFC 3339 date-time, or a day (its start, UTC).",
    }
)
class MomentFilter(django_filters.IsoDateTimeFilter):
    """A moment: 2026-11-01T09:30:00Z, or a day, 2026-11-01 (its midnight UTC)."""

    field_class = MomentField


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, refusing an empty value for any filter that is
    not free text: `until=` or `status=` is a mistake to report, not a filter
    to drop."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            empty = [
                name
                for name, declared in filterset_class.base_filters.items()
                if not isinstance(declared, django_filters.CharFilter)
                and request.query_params.get(name) == ""
            ]
            if empty:
                raise exceptions.ValidationError(
                    {name: ["Give a value, or leave the parameter out."] for name in empty}
                )
        return super().filter_queryset(request, queryset, view)
