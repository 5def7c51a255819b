"""Shapes of capability requests in the API."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from capabilities.approvals.models import CapabilityRequest
from capabilities.registry import registry


class CapabilityRequestSerializer(serializers.ModelSerializer):
    capability = serializers.CharField(
        source="capability_key", read_only=True, help_text="The capability's key."
    )
    capability_name = serializers.CharField(source="title", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="`pending`, `approved`, `declined` or `expired` (also when past `expires_at` "
        "before the hourly task marks it)."
    )
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True)
    decided_by = serializers.EmailField(
        source="decided_by.email", default=None, read_only=True, allow_null=True
    )
    estimate = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="The monthly estimate when it was asked, when the approval limit made it a request.",
    )

    class Meta:
        model = CapabilityRequest
        fields = [
            "id",
            "capability",
            "capability_name",
            "enabled",
            "reason",
            "why",
            "status",
            "requested_by",
            "requested_at",
            "expires_at",
            "decided_by",
            "decided_at",
            "note",
            "estimate",
            "estimate_currency",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=CapabilityRequest.Status.choices))
    def get_status(self, request: CapabilityRequest) -> str:
        return CapabilityRequest.Status.EXPIRED if request.is_expired_at(timezone.now()) else request.status


class NewRequestSerializer(serializers.Serializer):
    capability = serializers.CharField(max_length=64, help_text="The key of an installed capability.")
    enabled = serializers.BooleanField(default=True, help_text="Ask to switch it on (true) or off (false).")
    reason = serializers.CharField(max_length=300, help_text="Why it is needed; the deciders read it.")

    def validate_capability(self, value: str) -> str:
        if value not in registry():
            raise serializers.ValidationError(
                f"No capability {value!r} is installed.", code="unknown_capability"
            )
        return value

    def validate_reason(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Say why it is needed.", code="reason_required")
        return value.strip()


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="Words for the requester."
    )
