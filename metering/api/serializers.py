"""Serializers of the usage API: the query of `GET /usage/`, its rows, ledger
events, budgets and usage anomalies."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from metering import budgets, meter_prices
from metering.actions import MAX_BUDGET, MAX_THRESHOLDS
from metering.budgets import DEFAULT_THRESHOLDS, BudgetStatus
from metering.forms import MAX_RANGE_DAYS
from metering.models import Budget, UsageEvent

GROUPINGS = ("capability", "meter", "version", "day", "hour")
DEFAULT_GROUPING = "capability,meter"


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


class DayField(serializers.DateField):
    """A day written YYYY-MM-DD exactly (strptime alone takes 2026-1-5 too)."""

    def get_value(self, dictionary: Any) -> Any:
        # A query string's `until=` is a day that is not one, not a day left out
        # (DRF's form-data rule would drop it silently).
        if hasattr(dictionary, "get") and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)

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
    version = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="Grouped by version: the capability version its jobs ran with; null for usage no "
        "versioned job made.",
    )
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


# --- budgets -------------------------------------------------------------------------

# What the schema promises an amount looks like: up to 10 digits, at most 2 decimals, never
# negative (the action refuses 10 billion or more; the serializer says so in the same words).
AMOUNT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


@extend_schema_field(
    {
        "type": "string",
        "pattern": AMOUNT_PATTERN,
        "example": "50.00",
        "description": 'A decimal string in the organization\'s currency, e.g. "50.00".',
    }
)
class AmountField(serializers.DecimalField):
    """A budget's amount: a decimal string with at most two decimals, zero or more."""

    default_error_messages = {
        "min_value": "The amount cannot be negative.",
        "max_value": "The amount must be under 10 billion.",
        "max_decimal_places": "The amount has at most two decimals, such as 12.50.",
        "invalid": "The amount must be a number, such as 50.00.",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(
            max_digits=12,
            decimal_places=2,
            min_value=Decimal(0),
            max_value=MAX_BUDGET - Decimal("0.01"),
            **options,
        )


class BudgetRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    capability = serializers.CharField(
        allow_null=True,
        required=False,
        default=None,
        max_length=64,
        help_text="A capability's key (one with meters, see `GET /api/v1/capabilities/`), or null "
        "(the default) for the total over every capability.",
    )
    amount = AmountField(help_text='The monthly limit, e.g. "50.00".')
    action = serializers.ChoiceField(
        choices=Budget.Action.choices,
        default=Budget.Action.STOP,
        help_text="`stop` (the default): new jobs and metered API calls of what it covers are refused "
        "once it is reached. `alert`: alerts only.",
    )
    thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=100),
        max_length=MAX_THRESHOLDS,
        required=False,
        default=list(DEFAULT_THRESHOLDS),
        help_text="Percents of the amount at which an alert goes out, once a month each "
        "(default 50, 80, 100). Empty: no alerts.",
    )

    def validate_capability(self, value: str | None) -> str | None:
        # Checked here rather than as an enum of the schema: the capabilities with meters come
        # from the price book, which is not read while modules (and the schema's classes) load.
        if value is not None and value not in budgets.covered_capabilities():
            raise serializers.ValidationError(
                f"{value!r} is not a capability a budget can cover; use a capability key or null."
            )
        return value


class BudgetSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A budget with this month's figures (from metering.budgets.BudgetStatus)."""

    id = serializers.IntegerField(source="budget.pk")
    capability = serializers.CharField(
        source="budget.capability", allow_null=True, help_text="null: every capability."
    )
    scope = serializers.SerializerMethodField(help_text='"all capabilities" or the capability\'s name.')
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(source="budget.currency")
    action = serializers.ChoiceField(source="budget.action", choices=Budget.Action.choices)
    thresholds = serializers.ListField(source="budget.thresholds", child=serializers.IntegerField())
    platform_cap = serializers.BooleanField(
        source="budget.platform",
        help_text="Set by the platform's finance team or IT admins; the organization cannot change it.",
    )
    reason = serializers.CharField(source="budget.reason", help_text="Why a platform cap is set.")
    locked = serializers.BooleanField(help_text="The organization cannot change or delete it.")
    period = serializers.CharField(source="period_label", help_text="The billing month the figures are of.")
    spent = serializers.SerializerMethodField(help_text="This month's cost of what it covers.")
    in_flight = serializers.SerializerMethodField(help_text="What the running jobs it covers should cost.")
    remaining = serializers.SerializerMethodField(help_text="amount - spent - in_flight, never below 0.")
    projected = serializers.SerializerMethodField(help_text="This month's cost if usage goes on at its pace.")
    state = serializers.ChoiceField(
        choices=[("ok", "ok"), ("alerted", "alerted"), ("stopped", "stopped")],
        help_text="`stopped`: a reached stop budget, new work is refused; `alerted`: a threshold "
        "was reached; `ok`: neither.",
    )
    updated_at = serializers.DateTimeField(source="budget.updated_at")

    def get_scope(self, status: BudgetStatus) -> str:
        return budgets.scope_name(status.budget.capability)

    def get_amount(self, status: BudgetStatus) -> str:
        return _money(status.budget.amount)

    def get_spent(self, status: BudgetStatus) -> str:
        return _money(status.spent)

    def get_in_flight(self, status: BudgetStatus) -> str:
        return _money(status.in_flight)

    def get_remaining(self, status: BudgetStatus) -> str:
        return _money(status.remaining)

    def get_projected(self, status: BudgetStatus) -> str:
        return _money(status.projected)


def _money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


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
