"""Upload sets of sales spreadsheets, their column mapping, and the reports
built from them. A report's figures are its job's result."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.db import models
from django.utils import timezone

from capabilities.models import Job
from portal.models import Organization, User

# The fields a sales row needs, in the order the mapping form asks for them.
REQUIRED_FIELDS = ("date", "region", "sku", "units", "revenue")
FIELD_LABELS = {
    "date": "Date",
    "region": "Region",
    "sku": "SKU",
    "units": "Units",
    "revenue": "Revenue",
}


class DateOrder(models.TextChoices):
    """How to read dates written with slashes (03/04/2025); ISO dates and
    dotted day-first dates are never ambiguous."""

    DAY_FIRST = "day_first", "Day first (31/01/2025)"
    MONTH_FIRST = "month_first", "Month first (01/31/2025)"


def source_path(instance: SourceFile, filename: str) -> str:
    """Per organization, so storage can be swapped for a bucket with per-tenant prefixes."""
    return f"reports/org-{instance.organization_id}/{uuid.uuid4().hex}/{PurePath(filename).name[-100:]}"


class UploadSet(models.Model):
    """Files uploaded together for one report, and how their columns map."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # field -> header, e.g. {"units": "Qty"}; empty until someone confirms it.
    mapping = models.JSONField(default=dict, blank=True)
    date_order = models.CharField(max_length=16, choices=DateOrder.choices, default=DateOrder.DAY_FIRST)
    currency = models.CharField(max_length=3, default="USD")
    mapping_confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def mapping_confirmed(self) -> bool:
        return self.mapping_confirmed_at is not None


class SourceFile(models.Model):
    """One uploaded spreadsheet, with what was read from it at upload."""

    class Kind(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    upload_set = models.ForeignKey(UploadSet, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=source_path, max_length=255)
    original_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    size = models.PositiveBigIntegerField()
    encoding = models.CharField(max_length=32, blank=True)  # CSV only: what it was read as
    headers = models.JSONField(default=list)
    preview = models.JSONField(default=list)  # the first rows, as text
    row_count = models.PositiveIntegerField(default=0)  # data rows under the header
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.original_name


class Report(models.Model):
    """A build of an upload set: its job carries the status, progress and figures."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    upload_set = models.ForeignKey(UploadSet, on_delete=models.CASCADE, related_name="reports")
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The mapping as it was when the build started: later edits don't change it.
    mapping = models.JSONField(default=dict)
    date_order = models.CharField(max_length=16, choices=DateOrder.choices, default=DateOrder.DAY_FIRST)
    currency = models.CharField(max_length=3, default="USD")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"Report #{self.pk} of {self.upload_set}"

    @property
    def status(self) -> str:
        return self.job.status if self.job else Job.Status.FAILED

    @property
    def figures(self) -> dict:
        """The built report (see analysis.Summary.as_result), or {} until it succeeded."""
        if self.job is None or self.job.status != Job.Status.SUCCEEDED:
            return {}
        return self.job.result or {}
