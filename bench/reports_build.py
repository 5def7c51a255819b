"""Rows per second through the whole sales report build (queue cap.reports on
a real worker: claim, reading each stored file through the mapping, Decimal
parsing with bad-row checks, aggregation, flags, the result and its usage in
one transaction) against the bare libraries doing the same aggregation in a
plain loop outside the portal: openpyxl read-only and csv parsing, Decimal
revenue, int units, totals by month, region and SKU. The same twelve monthly
files (six XLSX, six CSV), alternating runs.
Target: at least half the bare loop's rows per second."""

from __future__ import annotations

import csv
import io
import random
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

MONTHS = 12
ROWS_PER_FILE = 4_000
RUNS = 3
HEADER = ["Date", "Sales Region", "SKU", "Qty", "Amount (USD)"]
MAPPING = {"date": "Date", "region": "Sales Region", "sku": "SKU", "units": "Qty", "revenue": "Amount (USD)"}
REGIONS = ["North", "South", "East", "West", "Central", "Coast"]


def _rows(month: int, rng: random.Random) -> list[list[Any]]:
    return [
        [
            date(2025, month, rng.randint(1, 28)),
            rng.choice(REGIONS),
            f"SKU-{rng.randint(1, 300):04d}",
            rng.randint(1, 20),
            Decimal(rng.randint(100, 99_999)) / 100,
        ]
        for _ in range(ROWS_PER_FILE)
    ]


def _files() -> dict[str, bytes]:
    from openpyxl import Workbook

    rng = random.Random(2025)  # the same files every run
    files: dict[str, bytes] = {}
    for month in range(1, MONTHS + 1):
        rows = _rows(month, rng)
        if month % 2:
            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet()
            sheet.append(HEADER)
            for row in rows:
                sheet.append(row)
            buffer = io.BytesIO()
            workbook.save(buffer)
            files[f"2025-{month:02d}.xlsx"] = buffer.getvalue()
        else:
            text = io.StringIO(newline="")
            writer = csv.writer(text)
            writer.writerow(HEADER)
            writer.writerows([[row[0].isoformat(), *row[1:]] for row in rows])
            files[f"2025-{month:02d}.csv"] = text.getvalue().encode()
    return files


def bare_aggregation(files: dict[str, bytes]) -> tuple[int, Decimal]:
    """What a script would do: read each file, sum by month, region and SKU."""
    from openpyxl import load_workbook

    months: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
    regions: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
    skus: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
    count = 0

    def add(day: date, region: str, sku: str, units: int, revenue: Decimal) -> None:
        for bucket, key in ((months, f"{day:%Y-%m}"), (regions, region), (skus, sku)):
            bucket[key][0] += revenue
            bucket[key][1] += units

    for name, content in files.items():
        if name.endswith(".xlsx"):
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            rows = workbook.worksheets[0].iter_rows(min_row=2, values_only=True)
            for day, region, sku, units, revenue in rows:
                day = day.date() if isinstance(day, datetime) else day
                add(day, region, sku, int(units), Decimal(repr(revenue)))
                count += 1
            workbook.close()
        else:
            reader = csv.reader(io.StringIO(content.decode("utf-8")))
            next(reader)
            for day_text, region, sku, units_text, revenue_text in reader:
                add(date.fromisoformat(day_text), region, sku, int(units_text), Decimal(revenue_text))
                count += 1
    total = sum((revenue for revenue, _units in months.values()), Decimal(0))
    return count, total


def _finished(job_id: int) -> bool:
    from capabilities.models import Job

    return not Job.objects.filter(pk=job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).exists()


def run() -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import override_settings

    from bench.fixtures import bench_organization
    from bench.harness import median, wait_until, write_result
    from capabilities import actions as capability_actions
    from capabilities import is_enabled
    from capabilities.models import Job
    from capabilities.reports import actions
    from tests.workers import celery_worker

    organization, owner = bench_organization()
    if not is_enabled(organization, "reports"):
        capability_actions.set_capability_enabled(
            owner, organization, "reports", enabled=True, reason="benchmark"
        )
    files = _files()
    total_rows = MONTHS * ROWS_PER_FILE
    expected_rows, expected_revenue = bare_aggregation(files)
    assert expected_rows == total_rows

    ours: list[float] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as media, override_settings(MEDIA_ROOT=media):
        upload_set = actions.create_upload_set(
            owner,
            organization,
            name="Benchmark year",
            files=[SimpleUploadedFile(name, content) for name, content in files.items()],
        )
        actions.set_mapping(owner, upload_set, mapping=MAPPING)
        with celery_worker(queues="cap.reports", env={"MEDIA_ROOT": media}):
            for _ in range(RUNS):
                start = time.perf_counter()
                count, _total = bare_aggregation(files)
                bare.append(count / (time.perf_counter() - start))

                start = time.perf_counter()
                report = actions.start_report(owner, upload_set)
                job_id = report.job_id
                wait_until(lambda: _finished(job_id), "the report build", timeout=600, poll=0.02)  # noqa: B023  (called at once)
                elapsed = time.perf_counter() - start
                job = Job.objects.get(pk=job_id)
                if job.status != Job.Status.SUCCEEDED:
                    raise RuntimeError(f"the build failed: {job.error}")
                figures = job.result
                assert figures["totals"]["rows"] == total_rows
                assert Decimal(figures["totals"]["revenue"]) == expected_revenue
                ours.append(total_rows / elapsed)

    return write_result(
        "reports_build",
        metric="sales rows aggregated into a report per second, build start to report ready",
        unit="rows/s",
        ours=median(ours),
        baseline=median(bare),
        baseline_name="the same files through openpyxl read-only + csv and a plain Decimal aggregation loop",
        higher_is_better=True,
        target="ratio >= 0.5",
        runs=RUNS,
        rows_per_run=total_rows,
        files=f"{MONTHS} monthly files ({MONTHS // 2} XLSX, {MONTHS // 2} CSV), {ROWS_PER_FILE} rows each",
        worker="celery solo pool, queue cap.reports",
        ours_runs=[round(value, 1) for value in ours],
        baseline_runs=[round(value, 1) for value in bare],
        meets_target=median(ours) / median(bare) >= 0.5,
    )
