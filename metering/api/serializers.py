"""Serializers of the usage API: the query of `GET /usage/`, its rows,
ledger events, and usage anomalies."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from rest_framework import serializers

from metering import meter_prices
from metering.forms import MAX_RANGE_DAYS
from metering.models import UsageEvent

GROUPINGS = ("capability", "meter", "day", "hour")
DEFAULT_GROUPING = "capability,meter"


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


class DayField(serializers.DateField):
    """A day written YYYY-MM-DD exactly (strptime alone takes 2026-1-5 too)."""

    def to_internal_value(self, value: Any) -> date:
        if not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, flags=re.ASCII)):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


class UsageQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    start = DayField(
        required=False,
        input_formats=["%Y-%m-%d"],
        help_text="First day (UTC), YYYY-MM-DD. Default: the first day of `end`'s month, or of the "
        "current billing period.",
    )
    end = DayField(
        required=False,
        input_formats=["%Y-%m-%d"],
        help_text="Last day (UTC, included), YYYY-MM-DD. Default: the last day of `start`'s month, or of "
        "the current billing period.",
    )
    group_by = serializers.CharField(
        required=False,
        default=DEFAULT_GROUPING,
        help_text=f"Comma-separated subset of {', '.join(GROUPINGS)}. Default: {DEFAULT_GROUPING}.",
    )
    organization = serializers.SlugField(
        required=False, help_text="Platform finance only: the slug of the organization to read."
    )

    def to_internal_value(self, data: Any) -> Any:
        # A query string's empty value would read as "not given": `start=` is a mistake.
        blank = [name for name in ("start", "end") if data.get(name) == ""]
        if blank:
            raise serializers.ValidationError(
                {name: ["Give a day, YYYY-MM-DD, or leave it out."] for name in blank}
            )
        return super().to_internal_value(data)

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
        # One side alone means the calendar month (a billing period) it falls in.
        if start is not None and end is None:
            attrs["end"] = end = _month_end(start)
        elif end is not None and start is None:
            attrs["start"] = start = end.replace(day=1)
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


MAX_ANOMALIES = 500


class AnomalyQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    since = DayField(required=False, input_formats=["%Y-%m-%d"], help_text="First day (UTC), YYYY-MM-DD.")
    until = DayField(
        required=False, input_formats=["%Y-%m-%d"], help_text="Last day (UTC, included), YYYY-MM-DD."
    )
    capability = serializers.CharField(
        required=False, help_text="Only this capability's anomalies (its key)."
    )
    limit = serializers.IntegerField(
        required=False,
        default=100,
        min_value=1,
        max_value=MAX_ANOMALIES,
        help_text="At most this many, newest first.",
    )
    organization = serializers.SlugField(
        required=False, help_text="Platform finance only: the slug of the organization to read."
    )

    def validate_capability(self, value: str) -> str:
        if value not in {info.capability for info in meter_prices.meters()}:
            raise serializers.ValidationError(f"No installed capability has the key {value!r}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError({"until": ["until must not be before since."]})
        return attrs


class AnomalySerializer(serializers.Serializer):  # type: ignore[type-arg]
    capability = serializers.CharField()
    capability_title = serializers.CharField()
    meter = serializers.CharField()
    unit = serializers.CharField()
    day = serializers.DateField(help_text="The closed UTC day that spiked.")
    quantity = serializers.IntegerField(help_text="The day's usage, in units.")
    baseline_median = serializers.CharField(help_text="Median day of the 28 days before (decimal string).")
    baseline_mad = serializers.CharField(help_text="Their median absolute deviation (decimal string).")
    usual_day = serializers.CharField(
        help_text="What `ratio` is taken against: the median, or when it is 0 the median day with usage."
    )
    robust_z = serializers.FloatField(
        allow_null=True,
        help_text="0.6745 * (quantity - median) / MAD; null when every baseline day was equal.",
    )
    ratio = serializers.FloatField(
        allow_null=True, help_text="quantity / usual_day; null when usual_day is 0."
    )
    summary = serializers.CharField(help_text="The anomaly in words.")
    detected_at = serializers.DateTimeField()


class AnomalyListSerializer(serializers.Serializer):  # type: ignore[type-arg]
    organization = serializers.SlugField()
    anomalies = AnomalySerializer(many=True)
