"""Serializers of the notifications API."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from capabilities.notifications.models import Attempt, Channel, Delivery, Rule
from capabilities.notifications.queries import capability_choices
from capabilities.notifications.targets import MAX_TARGET_LENGTH, clean_target


class RuleSerializer(serializers.ModelSerializer):
    capability = serializers.ChoiceField(choices=[])
    event = serializers.ChoiceField(choices=Rule.Event.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    within_days = serializers.IntegerField(
        min_value=1,
        max_value=365,
        required=False,
        allow_null=True,
        help_text="For event `deadline_near`: notify when a contract's notice deadline is at most this "
        "many days away (required then; null for job events)",
    )
    target = serializers.CharField(
        max_length=MAX_TARGET_LENGTH, help_text="An email address or an http(s) webhook URL"
    )
    secret = serializers.SerializerMethodField(
        help_text="Webhook signing secret (HMAC-SHA256); null for email rules and for members who "
        "are not owners or admins"
    )

    class Meta:
        model = Rule
        fields = ["id", "capability", "event", "within_days", "channel", "target", "secret", "created_at"]
        read_only_fields = ["id", "secret", "created_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["capability"].choices = capability_choices()  # type: ignore[attr-defined]

    def get_secret(self, rule: Rule) -> str | None:
        if not self.context.get("show_secrets") or not rule.secret:
            return None
        return rule.secret

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        target = attrs.get("target", getattr(self.instance, "target", ""))
        try:
            attrs["target"] = clean_target(channel or "", target)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"target": error.messages}) from None
        return attrs


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["number", "at", "succeeded", "status_code", "duration_ms", "error", "job"]


class DeliverySerializer(serializers.ModelSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "rule",
            "event",
            "channel",
            "target",
            "status",
            "attempt_count",
            "next_attempt_at",
            "delivered_at",
            "last_error",
            "source_job",
            "payload",
            "created_at",
            "attempts",
        ]
        read_only_fields = fields
