"""Fixtures of the sales reports tests: uploads kept in a temporary media
folder, the capability switched on for acme, and spreadsheets made on the fly."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from capabilities.actions import set_capability_enabled
from capabilities.models import Job
from capabilities.reports import actions
from capabilities.reports.models import Report, UploadSet
from capabilities.runner import run_job
from portal.models import Organization, User

HEADER = ["Date", "Sales Region", "Product", "Qty", "Amount (USD)"]
MAPPING = {
    "date": "Date",
    "region": "Sales Region",
    "sku": "Product",
    "units": "Qty",
    "revenue": "Amount (USD)",
}


def csv_bytes(
    rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER, encoding: str = "utf-8"
) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def month_rows(month: int, year: int = 2025) -> list[list[Any]]:
    """A month of sales in three regions: North sells most."""
    return [
        [date(year, month, 3), "North", "A-100", 10, Decimal("100.00")],
        [date(year, month, 9), "South", "B-200", 4, Decimal("60.50")],
        [date(year, month, 20), "East", "A-100", 2, Decimal("20.00")],
    ]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def reports_on(acme, alice, django_capture_on_commit_callbacks) -> Organization:
    with django_capture_on_commit_callbacks(execute=True):
        set_capability_enabled(alice, acme, "reports", enabled=True)
    return acme


@pytest.fixture
def uploaded(reports_on, alice) -> Callable[..., UploadSet]:
    """`uploaded(files, mapping=MAPPING)`: an upload set of acme's, mapping confirmed unless None."""

    def make(
        files: list[SimpleUploadedFile], mapping: dict[str, str] | None = MAPPING, **options
    ) -> UploadSet:
        upload_set = actions.create_upload_set(alice, reports_on, name="Sales 2025", files=files)
        if mapping is not None:
            actions.set_mapping(alice, upload_set, mapping=mapping, **options)
        return upload_set

    return make


@pytest.fixture
def built(alice) -> Callable[[UploadSet], Report]:
    """Start a build and run its job here (in-process, as a worker would)."""

    def run(upload_set: UploadSet, actor: User | None = None) -> Report:
        report = actions.start_report(actor or alice, upload_set)
        run_job.apply(args=[report.job_id])
        report.refresh_from_db()
        assert report.job is not None
        report.job = Job.objects.get(pk=report.job_id)
        return report

    return run
