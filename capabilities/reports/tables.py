"""The list of upload sets on the sales reports page (django-tables2)."""

import django_tables2 as tables
from django.urls import reverse

from capabilities.reports.models import UploadSet


class UploadSetTable(tables.Table):
    name = tables.Column(linkify=lambda record: reverse("reports:upload_set", args=[record.pk]))
    file_count = tables.Column(verbose_name="Files")
    mapping = tables.Column(
        accessor="mapping_confirmed_at", verbose_name="Mapping", default="Not confirmed", orderable=False
    )
    report_count = tables.Column(verbose_name="Reports")
    created_at = tables.DateTimeColumn(verbose_name="Uploaded", format="Y-m-d H:i")

    class Meta:
        model = UploadSet
        fields = ["name", "file_count", "mapping", "report_count", "created_at"]
        attrs = {"class": "table"}
        empty_text = "No spreadsheets uploaded yet."

    def render_mapping(self, value: object) -> str:
        return "Confirmed"
