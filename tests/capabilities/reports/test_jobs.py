"""The build job, run in-process as a worker runs it: figures, bad rows,
meters, and failures that bill nothing."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from capabilities.models import Job
from capabilities.reports import exports
from metering.models import UsageEvent
from tests.capabilities.reports.conftest import csv_bytes, month_rows, upload, xlsx_bytes


def _usage(report) -> dict[str, int]:
    return dict(
        UsageEvent.objects.filter(job_id=report.job_id)
        .exclude(meter="compute_seconds")
        .values_list("meter", "quantity")
    )


def test_three_monthly_files_make_one_report(uploaded, built):
    upload_set = uploaded(
        [
            upload("jan.xlsx", xlsx_bytes(month_rows(1))),
            upload("feb.csv", csv_bytes(month_rows(2))),
            upload("mar.xlsx", xlsx_bytes(month_rows(3))),
        ]
    )
    report = built(upload_set)
    assert report.job.status == Job.Status.SUCCEEDED, report.job.error
    figures = report.figures
    assert figures["totals"]["revenue"] == "541.50"  # 3 x 180.50
    assert figures["totals"]["units"] == 48
    assert figures["totals"]["rows"] == 9
    assert [month["month"] for month in figures["months"]] == ["2025-01", "2025-02", "2025-03"]
    assert [region["region"] for region in figures["regions"]] == ["North", "South", "East"]
    assert figures["top_skus"] == ["A-100", "B-200"]
    assert (report.job.progress_done, report.job.progress_total) == (9, 9)
    assert _usage(report) == {"reports": 1, "rows": 9}


def test_bad_rows_are_listed_and_the_good_ones_kept(uploaded, built):
    rows = [
        ["2025-01-02", "North", "A", "3", "30.00"],
        ["2025-13-02", "North", "A", "3", "30.00"],
        ["2025-01-03", "", "A", "3", "30.00"],
        ["2025-01-04", "South", "B", "2.5", "30.00"],
        ["2025-01-05", "South", "B", "2", "lots"],
        ["2025-01-06", "South", "B", "2", "20.00"],
    ]
    report = built(uploaded([upload("jan.csv", csv_bytes(rows))]))
    figures = report.figures
    assert figures["totals"]["rows"] == 2
    assert figures["totals"]["bad_rows"] == 4
    assert [(bad["row"], bad["reason"]) for bad in figures["bad_rows"]] == [
        (3, "'2025-13-02' is not a real date"),
        (4, "the region is empty"),
        (5, "the units '2.5' are not a whole number"),
        (6, "the revenue 'lots' is not an amount"),
    ]
    assert _usage(report) == {"reports": 1, "rows": 2}  # only rows that made the report


def test_a_file_missing_a_mapped_column_fails_the_job_and_bills_nothing(uploaded, built):
    other_header = ["Date", "Sales Region", "Product", "Qty", "Total"]
    upload_set = uploaded(
        [
            upload("jan.csv", csv_bytes(month_rows(1))),
            upload("feb.csv", csv_bytes(month_rows(2), header=other_header)),
        ]
    )
    report = built(upload_set)
    assert report.job.status == Job.Status.FAILED
    assert report.job.error.startswith("feb.csv has no column for Revenue ('Amount (USD)').")
    assert report.figures == {}
    assert not UsageEvent.objects.filter(job_id=report.job_id).exists()


def test_no_usable_row_fails_the_job(uploaded, built):
    report = built(uploaded([upload("jan.csv", csv_bytes([["soon", "North", "A", 1, "1"]]))]))
    assert report.job.status == Job.Status.FAILED
    assert "No row could be used" in report.job.error
    assert "jan.csv row 2: 'soon' is not a date we read" in report.job.error
    assert not UsageEvent.objects.filter(job_id=report.job_id).exists()


def test_the_row_limit_holds_in_the_job_too(uploaded, built, capability_settings):
    upload_set = uploaded([upload("jan.csv", csv_bytes(month_rows(1)))])
    capability_settings("reports", MAX_ROWS_PER_FILE=2)  # lowered after the upload was accepted
    report = built(upload_set)
    assert report.job.status == Job.Status.FAILED
    assert report.job.error == "jan.csv: more than 2 rows; the limit is 2 rows per file."
    assert not UsageEvent.objects.filter(job_id=report.job_id).exists()


def test_a_file_gone_from_storage_fails_clearly(uploaded, built):
    upload_set = uploaded([upload("jan.csv", csv_bytes(month_rows(1)))])
    upload_set.files.get().file.delete(save=False)
    report = built(upload_set)
    assert report.job.status == Job.Status.FAILED
    assert report.job.error == "jan.csv is no longer in storage; upload it again."


FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_cells_are_neutralised_in_the_xlsx(uploaded, built, formula):
    rows = [["2025-01-02", formula, formula, 1, "10"], ["2025-01-02", "North", "A", 1, "5"]]
    report = built(uploaded([upload(f"{formula}.csv", csv_bytes(rows))]))
    assert report.job.status == Job.Status.SUCCEEDED, report.job.error
    workbook = load_workbook(io.BytesIO(exports.xlsx_bytes(formula, report.figures)))
    texts = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value}"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), (sheet.title, cell.value)
                    texts.append(cell.value)
    assert f"'{formula}" in texts  # kept, as text
    assert 15 in [cell.value for cell in workbook["Summary"]["B"]]  # numbers stay numbers (units)


def test_the_pdf_has_the_tables_and_a_chart(uploaded, built):
    report = built(uploaded([upload("jan.csv", csv_bytes(month_rows(1) + month_rows(2)))]))
    content = exports.pdf_bytes("Sales \u2013 2025 東京", report.figures, compress=False)
    assert content.startswith(b"%PDF-")
    for text in (b"Sales report: Sales - 2025 ??", b"Top-selling SKUs", b"By region", b"A-100", b"2025-02"):
        assert text in content
    assert content.count(b" re f") >= 2  # the two months' bars of the revenue chart


def _saturated_bands(content: bytes) -> list[tuple[int, int]]:
    """Render each page (pdfium, as a viewer does) and return the runs of pixel
    rows holding saturated colour (a channel spread over 100 of 255)."""
    import pypdfium2
    from PIL import ImageChops

    bands = []
    document = pypdfium2.PdfDocument(content)
    try:
        for page in document:
            image = page.render(scale=1).to_pil().convert("RGB")
            red, green, blue = image.split()
            spread = ImageChops.subtract(
                ImageChops.lighter(ImageChops.lighter(red, green), blue),
                ImageChops.darker(ImageChops.darker(red, green), blue),
            )
            width, height = spread.size
            pixels = spread.load()
            start = None
            for y in range(height):
                coloured = any(pixels[x, y] > 100 for x in range(0, width, 2))
                if coloured and start is None:
                    start = y
                elif not coloured and start is not None:
                    bands.append((start, y))
                    start = None
            if start is not None:
                bands.append((start, height))
    finally:
        document.close()
    return bands


def test_the_pdf_tables_are_light_and_the_chart_is_the_only_colour(uploaded, built):
    """Issue 13: the tables were filled solid blue (the chart's fill colour
    leaked into them). Rendered, only the chart's bars are saturated: one band
    of the first page, and nothing at all without a chart."""
    months = [month_rows(month) for month in range(1, 13)]
    report = built(uploaded([upload("year.csv", csv_bytes([row for rows in months for row in rows]))]))
    assert report.job.status == Job.Status.SUCCEEDED, report.job.error

    bands = _saturated_bands(exports.pdf_bytes("Year", report.figures))
    assert len(bands) == 1, bands  # the bars, drawn as one block of rows
    top, bottom = bands[0]
    assert bottom - top < 250  # about the chart's 55 mm, not a table's length

    without_chart = {**report.figures, "months": []}
    assert _saturated_bands(exports.pdf_bytes("Year", without_chart)) == []
