"""Serializers of the usage API: the query of `GET /usage/`, its rows, and
ledger events."""

from __future__ import annotations

from datetime import date
from typing import Any

from rest_framework import serializers

from metering.forms import MAX_RANGE_DAYS
from metering.models import UsageEvent

GROUPINGS = ("capability", "meter", "day", "hour")
DEFAULT_GROUPING = "capability,meter"


class UsageQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    start = serializers.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        help_text="First day (UTC), YYYY-MM-DD. Default: the first day of the current billing period.",
    )
    end = serializers.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        help_text="Last day (UTC, included), YYYY-MM-DD. Default: the current billing period's last day.",
    )
    group_by = serializers.CharField(
        required=False,
        default=DEFAULT_GROUPING,
        help_text=f"Comma-separated subset of {', '.join(GROUPINGS)}. Default: {DEFAULT_GROUPING}.",
    )
    organization = serializers.SlugField(
        required=False, help_text="Platform finance only: the slug of the organization to read."
    )

    def validate_group_by(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in GROUPINGS]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown grouping {', '.join(repr(name) for name in unknown)}; "
                f"use a comma-separated subset of {', '.join(GROUPINGS)}."
            )
        if "day" in names and "hour" in names:
            raise serializers.ValidationError("Group by day or by hour, not both.")
        return [name for name in GROUPINGS if name in names]  # a fixed column order

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start: date | None = attrs.get("start")
        end: date | None = attrs.get("end")
        if (start is None) != (end is None):
            raise serializers.ValidationError("Give both start and end, or neither for the current period.")
        if start is not None and end is not None:
            if start > end:
                raise serializers.ValidationError({"end": ["end must not be before start."]})
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise serializers.ValidationError(
                    {"end": [f"Ask for at most {MAX_RANGE_DAYS} days at a time."]}
                )
        return attrs


class UsageRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    capability = serializers.CharField(required=False)
    meter = serializers.CharField(required=False)
    unit = serializers.CharField(required=False, help_text="Present when grouped by meter.")
    day = serializers.DateField(required=False)
    hour = serializers.DateTimeField(required=False)
    quantity = serializers.IntegerField(
        help_text="Sum of units; adds different meters' units when not grouped by meter."
    )
    cost = serializers.CharField(help_text='Exact cost as a decimal string, e.g. "12.340".')
    currency = serializers.CharField()


class UsageTotalSerializer(serializers.Serializer):  # type: ignore[type-arg]
    cost = serializers.CharField()
    currency = serializers.CharField()


class UsageReportSerializer(serializers.Serializer):  # type: ignore[type-arg]
    organization = serializers.SlugField()
    start = serializers.DateField()
    end = serializers.DateField(help_text="Last day included.")
    group_by = serializers.ListField(child=serializers.CharField())
    rows = UsageRowSerializer(many=True)
    totals = UsageTotalSerializer(many=True, help_text="Cost per currency over every row.")


class UsageEventSerializer(serializers.ModelSerializer[UsageEvent]):
    class Meta:
        model = UsageEvent
        fields = [
            "id",
            "capability",
            "meter",
            "quantity",
            "kind",
            "occurred_at",
            "recorded_at",
            "idempotency_key",
            "job_id",
            "reason",
        ]
        read_only_fields = fields
