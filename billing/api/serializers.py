"""Serializers of the reconciliation API (platform finance)."""

from __future__ import annotations

from rest_framework import serializers

from billing.models import ReconciliationLine, ReconciliationRun
from portal.models import Organization, User


class ReconciliationRunSerializer(serializers.ModelSerializer[ReconciliationRun]):
    triggered_by = serializers.SlugRelatedField[User](slug_field="email", read_only=True)
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "period_start",
            "period_end",
            "checked_until",
            "status",
            "triggered_by",
            "created_at",
            "started_at",
            "finished_at",
            "progress_done",
            "progress_total",
            "percent",
            "api_calls",
            "error",
            "matched",
            "missing",
            "excess",
            "unexplained",
            "settling",
            "unavailable",
        ]


class ReconciliationLineSerializer(serializers.ModelSerializer[ReconciliationLine]):
    organization = serializers.SlugRelatedField[Organization](slug_field="slug", read_only=True)
    difference = serializers.IntegerField(read_only=True, allow_null=True)  # null: Stripe not read

    class Meta:
        model = ReconciliationLine
        fields = [
            "day",
            "organization",
            "capability",
            "meter",
            "local_quantity",
            "stripe_quantity",
            "difference",
            "status",
            "action",
            "detail",
        ]
