"""Serializers of the capabilities API."""

import zoneinfo
from datetime import UTC
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from capabilities.models import Job, ScheduledSwitch, ToggleChange
from capabilities.registry import CHANNEL_CHOICES, registry


class MeterSerializer(serializers.Serializer):
    key = serializers.CharField()
    unit = serializers.CharField()
    aggregation = serializers.CharField()
    unit_price = serializers.DecimalField(
        max_digits=24, decimal_places=10, coerce_to_string=True, help_text="The price in force now, per unit"
    )
    currency = serializers.CharField()
    version = serializers.CharField(
        help_text="Set on a version's own meter: the version whose jobs are billed by it "
        "(it prices `base` differently); empty for the capability's own meters"
    )
    base = serializers.CharField(
        help_text="Set on a version's own meter: the capability's meter it replaces for that version"
    )


class EstimateSerializer(serializers.Serializer):
    monthly = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        coerce_to_string=True,
        allow_null=True,
        help_text="About what the capability would cost a month, to the currency's minor unit; "
        "null when there is no estimate yet",
    )
    currency = serializers.CharField()
    basis = serializers.ChoiceField(
        choices=["own_history", "peers"],
        allow_null=True,
        help_text="`own_history`: the organization's own use over the last 30 whole days; "
        "`peers`: the median of at least 5 organizations of similar activity; null: no estimate",
    )


class VersionSerializer(serializers.Serializer):
    version = serializers.CharField(source="number")
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES)
    notes = serializers.CharField(help_text="Its release notes")


class CapabilitySerializer(serializers.Serializer):
    key = serializers.CharField(source="capability.key")
    name = serializers.CharField(source="capability.title")
    summary = serializers.CharField(source="capability.summary")
    category = serializers.CharField(source="capability.category")
    version = serializers.CharField(
        source="capability.version", help_text="Its current stable version: what organizations run by default"
    )
    versions = VersionSerializer(
        source="capability.releases", many=True, help_text="Its versions, oldest first"
    )
    channel = serializers.ChoiceField(
        source="release.channel",
        choices=CHANNEL_CHOICES,
        help_text="The organization's channel for it: `stable` unless an owner or admin opted in to `beta`",
    )
    running_version = serializers.CharField(
        source="release.version.number",
        help_text="The version the organization's new jobs run with: its channel's newest, or the pinned one",
    )
    pinned = serializers.BooleanField(
        source="release.pinned", help_text="An IT admin pinned `running_version`; the channel can't change"
    )
    pinned_reason = serializers.CharField(source="release.pinned_reason")
    dependencies = serializers.SerializerMethodField()
    meters = MeterSerializer(source="capability.priced_meters", many=True)
    enabled = serializers.BooleanField()
    locked = serializers.BooleanField()
    locked_reason = serializers.CharField()
    degraded = serializers.BooleanField(
        help_text="Many of its jobs are failing right now, for every organization (the platform's IT admins"
        " are alerted; failed jobs are not billed)."
    )
    estimate = serializers.SerializerMethodField()

    def get_dependencies(self, entry) -> list[str]:  # type: ignore[no-untyped-def]
        return [dependency.key for dependency in entry.dependencies]

    @extend_schema_field(EstimateSerializer)
    def get_estimate(self, entry) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        """From the estimates the view read for every entry at once
        (`capabilities.queries.estimates`), in the `estimates` context."""
        return EstimateSerializer(self.context["estimates"][entry.key]).data


class ToggleRequestSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    include_related = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also switch the capabilities the dependency rule requires (on: missing dependencies; "
        "off: enabled dependents). Without it such a change answers 409.",
    )


class ChannelRequestSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES)


class ToggleResultSerializer(serializers.Serializer):
    changed = serializers.DictField(child=serializers.BooleanField())
    capability = CapabilitySerializer()


class HistoryEntrySerializer(serializers.Serializer):
    """One change of a capability for the organization (a row of `queries.change_history`)."""

    kind = serializers.ChoiceField(
        choices=[("toggle", "Switched on or off"), ("release", "Channel or pinned version changed")],
        source="entry_kind",
        help_text="`toggle`: switched on or off (`from_enabled`, `to_enabled`); `release`: the "
        "channel or the pinned version changed (`from_channel`, `to_channel`, `from_version`, `to_version`)",
    )
    at = serializers.DateTimeField(source="entry_at")
    from_enabled = serializers.BooleanField(source="entry_from_enabled", allow_null=True)
    to_enabled = serializers.BooleanField(source="entry_to_enabled", allow_null=True)
    locked = serializers.BooleanField(
        source="entry_locked", help_text="Locked by an IT admin: a forced toggle, or a pinned version"
    )
    actor = serializers.CharField(source="entry_actor")
    reason = serializers.CharField(source="entry_reason")
    source = serializers.ChoiceField(choices=ToggleChange.Source.choices, source="entry_source")  # type: ignore[assignment]
    from_channel = serializers.ChoiceField(
        choices=CHANNEL_CHOICES, source="entry_from_channel", allow_null=True
    )
    to_channel = serializers.ChoiceField(choices=CHANNEL_CHOICES, source="entry_to_channel", allow_null=True)
    from_version = serializers.CharField(source="entry_from_version", allow_null=True)
    to_version = serializers.CharField(source="entry_to_version", allow_null=True)


class JobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    requested_by = serializers.EmailField(
        source="requested_by.email",
        default=None,
        read_only=True,
        allow_null=True,
        help_text="Who started it; null for a job started with an API key or by the portal itself.",
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "capability",
            "kind",
            "status",
            "progress",
            "input",
            "result",
            "error",
            "error_code",
            "version",
            "requested_by",
            "queued_at",
            "started_at",
            "finished_at",
            "attempts",
        ]
        read_only_fields = fields

    def get_progress(self, job: Job) -> dict[str, int]:
        return {"done": job.progress_done, "total": job.progress_total, "percent": job.percent}


@extend_schema_field({"type": "object", "additionalProperties": True})
class JsonObjectField(serializers.JSONField):
    """A JSON object (validated as one by the serializer that uses it)."""


class CapabilityKeyField(serializers.ChoiceField):
    """An installed capability's key; a blank one is called blank."""

    default_error_messages = {"blank": "This field may not be blank."}

    def to_internal_value(self, data: Any) -> Any:
        if data == "":
            self.fail("blank")
        return super().to_internal_value(data)


class JobRequestSerializer(serializers.Serializer):
    capability = CapabilityKeyField(
        choices=[], error_messages={"invalid_choice": "No capability '{input}' is installed."}
    )
    kind = serializers.CharField(min_length=1, max_length=64)
    input = JsonObjectField(required=False, default=dict)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["capability"].choices = [capability.key for capability in registry()]  # type: ignore[attr-defined]

    def validate_input(self, value: object) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("The input must be a JSON object.")
        return value


class ScheduleSerializer(serializers.ModelSerializer):
    capability = serializers.CharField(source="capability_key")
    created_by = serializers.EmailField(source="created_by.email", help_text="Who scheduled it.")
    outcome = serializers.CharField(
        help_text="What applying it did, why it failed (words for people), or who cancelled it; "
        "empty while pending."
    )

    class Meta:
        model = ScheduledSwitch
        fields = [
            "id",
            "capability",
            "enabled",
            "at",
            "end_of_period",
            "time_zone",
            "include_related",
            "reason",
            "status",
            "outcome",
            "created_by",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ScheduleRequestSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="true: switch on; false: switch off.")
    at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When, ISO 8601; without an offset it is read in `time_zone`. Must be in the future "
        "and at most a year ahead. Leave it out with `end_of_period: true`.",
    )
    end_of_period = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Switch at the end of the billing period in progress (00:00 UTC on the 1st of next month).",
    )
    time_zone = serializers.CharField(
        required=False,
        default="UTC",
        max_length=64,
        help_text="The IANA time zone the moment is meant in and shown in, e.g. Europe/Paris.",
    )
    include_related = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also switch the capabilities the dependency rule requires when it is applied; without "
        "it such a schedule fails then, with the reason.",
    )
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    def validate_time_zone(self, value: str) -> str:
        from capabilities.schedules import known_time_zones

        if value not in known_time_zones():
            raise serializers.ValidationError(f"“{value}” is not an IANA time zone name.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end_of_period"] == (attrs["at"] is not None):
            raise serializers.ValidationError(
                {"at": "Give either `at` or `end_of_period: true`, not both and not neither."}
            )
        raw = self.initial_data.get("at") if isinstance(self.initial_data, dict) else None
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if parsed is not None and timezone.is_naive(parsed):
            # No offset given: the wall time is meant in `time_zone`.
            attrs["at"] = parsed.replace(tzinfo=zoneinfo.ZoneInfo(attrs["time_zone"]))
            try:
                attrs["at"].astimezone(UTC)
            except OverflowError:
                raise serializers.ValidationError({"at": "That moment is out of range."}) from None
        return attrs
