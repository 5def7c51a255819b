"""The report build job (queue cap.reports): reads every file of the upload
set through the confirmed mapping, leaves out bad rows with their row number
and reason, and returns the report's figures with their executive summary
(narrative.py). Bills one report and the rows it aggregated, only when it
succeeds."""

from __future__ import annotations

from typing import Any

from capabilities.job_context import JobContext, JobFailed
from capabilities.reports import narrative
from capabilities.reports.analysis import Summary
from capabilities.reports.models import FIELD_LABELS, REQUIRED_FIELDS, Report, SourceFile
from capabilities.reports.sales import RowError, parse_row
from capabilities.reports.sources import SourceError, limits, open_table

PROGRESS_EVERY = 2_000  # rows between progress writes: one UPDATE each


def build(ctx: JobContext) -> dict[str, Any]:
    report_id = ctx.input.get("report_id")
    report = (
        Report.objects.select_related("upload_set")
        .filter(pk=report_id, organization_id=ctx.organization_id)
        .first()
        if isinstance(report_id, int)
        else None
    )
    if report is None:
        raise JobFailed("This report's upload set was deleted before the build started.")
    missing = [FIELD_LABELS[field] for field in REQUIRED_FIELDS if not report.mapping.get(field)]
    if missing:
        raise JobFailed(f"The column mapping has no column for: {', '.join(missing)}. Confirm the mapping.")
    sources = list(
        SourceFile.objects.filter(upload_set=report.upload_set, organization_id=ctx.organization_id)
    )
    if not sources:
        raise JobFailed("The upload set has no files.")
    total = sum(source.row_count for source in sources)
    summary = Summary(currency=report.currency)
    done = 0
    ctx.progress(0, total)
    for source in sources:
        done = _read_source(ctx, report, source, summary, done, total)
        ctx.progress(done, max(total, done))
    if summary.rows == 0:
        examples = "; ".join(f"{bad.file} row {bad.row}: {bad.reason}" for bad in summary.bad_rows[:3])
        raise JobFailed(f"No row could be used, so there is no report. First problems: {examples}.")
    figures = summary.as_result()
    figures["summary"] = narrative.written_summary(figures)
    ctx.meter("reports", 1)
    ctx.meter("rows", summary.rows)
    return figures


def _read_source(
    ctx: JobContext, report: Report, source: SourceFile, summary: Summary, done: int, total: int
) -> int:
    name = source.original_name
    tally = summary.start_file(name)
    cap = limits()
    try:
        with source.file.open("rb") as stream, open_table(stream, name, source.kind) as table:
            columns = _columns(report.mapping, table.headers, name)
            for read, (number, cells) in enumerate(table.rows, start=1):
                if read > cap.max_rows_per_file:
                    raise JobFailed(
                        f"{name}: more than {cap.max_rows_per_file:,} rows; the limit is "
                        f"{cap.max_rows_per_file:,} rows per file."
                    )
                try:
                    row = parse_row(cells, columns, report.date_order)
                except RowError as problem:
                    summary.reject(tally, number, str(problem))
                else:
                    summary.add(row, tally)
                done += 1
                if done % PROGRESS_EVERY == 0:
                    ctx.progress(done, max(total, done))
    except SourceError as unreadable:
        raise JobFailed(str(unreadable)) from None
    except FileNotFoundError:
        raise JobFailed(f"{name} is no longer in storage; upload it again.") from None
    return done


def _columns(mapping: dict[str, str], headers: list[str], name: str) -> dict[str, int]:
    """Column positions of the mapped headers in this file, or a failure naming
    every required column it lacks."""
    missing = [
        f"{FIELD_LABELS[field]} ({mapping[field]!r})"
        for field in REQUIRED_FIELDS
        if mapping[field] not in headers
    ]
    if missing:
        raise JobFailed(
            f"{name} has no column for {', '.join(missing)}. Its columns are: {', '.join(headers)}. "
            "Fix the file or the mapping and build again."
        )
    return {field: headers.index(mapping[field]) for field in REQUIRED_FIELDS}
