"""Serializers of the sales reports API."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from capabilities.reports.models import REQUIRED_FIELDS, DateOrder, Report, SourceFile, UploadSet
from capabilities.reports.queries import proposed_mapping
from portal.api.serializers import FilePartsField


class SourceFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceFile
        fields = ["id", "original_name", "kind", "size", "encoding", "headers", "preview", "row_count"]


class UploadSetSerializer(serializers.ModelSerializer):
    files = SourceFileSerializer(many=True, read_only=True)
    mapping_confirmed = serializers.BooleanField(read_only=True)
    suggested_mapping = serializers.SerializerMethodField(
        help_text="The confirmed mapping, or one suggested from the header names (empty where none fits)."
    )

    class Meta:
        model = UploadSet
        fields = [
            "id",
            "name",
            "created_at",
            "mapping",
            "mapping_confirmed",
            "suggested_mapping",
            "date_order",
            "currency",
            "files",
        ]

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_suggested_mapping(self, upload_set: UploadSet) -> dict[str, str]:
        return proposed_mapping(upload_set)


class SalesUploadRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    files = FilePartsField(
        child=serializers.FileField(allow_empty_file=True),
        help_text="CSV or XLSX files (multipart, the field repeated)",
    )


class ColumnMappingSerializer(serializers.Serializer):
    """The column of the set's files holding each field, no column twice."""

    date = serializers.CharField(max_length=255)
    region = serializers.CharField(max_length=255)
    sku = serializers.CharField(max_length=255)
    units = serializers.CharField(max_length=255)
    revenue = serializers.CharField(max_length=255)


class MappingRequestSerializer(serializers.Serializer):
    mapping = ColumnMappingSerializer(help_text=f"Column name for each of {', '.join(REQUIRED_FIELDS)}")
    date_order = serializers.ChoiceField(choices=DateOrder.choices, default=DateOrder.DAY_FIRST)
    currency = serializers.CharField(
        min_length=3,
        max_length=3,
        default="USD",
        validators=[RegexValidator(r"^[A-Za-z]{3}$", "The currency is a three-letter code such as USD.")],
    )


class ReportSerializer(serializers.ModelSerializer):
    upload_set = serializers.IntegerField(source="upload_set_id", read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)
    error = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    figures = serializers.SerializerMethodField(
        help_text="Once built: currency, totals, months, regions, skus (ranked), top_skus, flags, rules, "
        "files, bad_rows. Amounts are exact decimal strings."
    )
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id",
            "upload_set",
            "job",
            "status",
            "error",
            "progress",
            "created_at",
            "mapping",
            "date_order",
            "currency",
            "figures",
            "downloads",
        ]

    def get_error(self, report: Report) -> str:
        return report.job.error if report.job else "The report's job is gone."

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_progress(self, report: Report) -> dict[str, int]:
        if report.job is None:
            return {"done": 0, "total": 0, "percent": 0}
        return {
            "done": report.job.progress_done,
            "total": report.job.progress_total,
            "percent": report.job.percent,
        }

    @extend_schema_field(serializers.JSONField())
    def get_figures(self, report: Report) -> dict[str, Any] | None:
        return report.figures or None

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_downloads(self, report: Report) -> dict[str, str]:
        if not report.figures:
            return {}
        return {
            "pdf": reverse("reports-api:report-pdf", args=[report.pk]),
            "xlsx": reverse("reports-api:report-xlsx", args=[report.pk]),
        }
