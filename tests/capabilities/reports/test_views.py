"""The sales reports pages: upload, mapping with preview, build, the report
with its charts, and the downloads."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from capabilities.reports.models import Report, SourceFile, UploadSet
from capabilities.runner import run_job
from tests.capabilities.reports.conftest import HEADER, MAPPING, csv_bytes, month_rows, upload, xlsx_bytes


def _three_months() -> list:
    return [
        upload("jan.xlsx", xlsx_bytes(month_rows(1))),
        upload("feb.csv", csv_bytes(month_rows(2), encoding="utf-16")),
        upload("mar.csv", csv_bytes(month_rows(3), encoding="cp1252")),
    ]


def test_bob_uploads_three_months_and_sees_previews_and_a_suggested_mapping(reports_on, bob, client_for):
    client = client_for(bob)
    response = client.post(reverse("reports:index"), {"name": "Sales Q1", "spreadsheets": _three_months()})
    upload_set = UploadSet.objects.get(organization=reports_on)
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:upload_set", args=[upload_set.pk])
    assert [(f.original_name, f.kind, f.encoding, f.row_count) for f in upload_set.files.all()] == [
        ("jan.xlsx", "xlsx", "", 3),
        ("feb.csv", "csv", "utf-16", 3),
        ("mar.csv", "csv", "utf-8", 3),  # ASCII only: valid UTF-8, whatever it was saved as
    ]
    stored = upload_set.files.first().file.name
    assert stored.startswith(f"reports/org-{reports_on.pk}/")

    page = client.get(response["Location"]).content.decode()
    assert "read as utf-16" in page
    assert "<td>2025-01-03</td>" in page  # the preview's first row
    for field, column in MAPPING.items():
        assert f'<option value="{column}" selected>' in page, field
    assert "Build report" not in page  # not before the mapping is confirmed


def test_unusable_files_are_refused_together_and_nothing_is_stored(reports_on, bob, client_for, media):
    files = [
        upload("good.csv", csv_bytes(month_rows(1))),
        upload("broken.xlsx", b"PK\x03\x04 not really a zip"),
        upload("empty.csv", b""),
    ]
    response = client_for(bob).post(reverse("reports:index"), {"spreadsheets": files})
    assert response.status_code == 400
    page = response.content.decode()
    assert "broken.xlsx: this is not an XLSX workbook" in page
    assert "empty.csv: the file is empty." in page
    assert not UploadSet.objects.exists()
    assert not SourceFile.objects.exists()
    assert not media.exists() or not [path for path in media.rglob("*") if path.is_file()]


def test_the_row_limit_refuses_a_huge_spreadsheet(reports_on, bob, client_for, capability_settings):
    capability_settings("reports", MAX_ROWS_PER_FILE=5)
    response = client_for(bob).post(
        reverse("reports:index"), {"spreadsheets": [upload("year.csv", csv_bytes(month_rows(1) * 2))]}
    )
    assert response.status_code == 400
    assert "year.csv: more than 5 rows; the limit is 5 rows per file." in response.content.decode()
    assert not UploadSet.objects.exists()


def test_the_mapping_form_saves_and_refuses_incomplete_mappings(uploaded, bob, client_for):
    upload_set = uploaded([upload("jan.csv", csv_bytes(month_rows(1)))], mapping=None)
    url = reverse("reports:upload_set", args=[upload_set.pk])
    client = client_for(bob)
    incomplete = {**MAPPING, "revenue": "", "date_order": "day_first", "currency": "USD"}
    response = client.post(url, incomplete)
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    twice = {**MAPPING, "revenue": "Qty", "date_order": "day_first", "currency": "USD"}
    assert "Each column can hold one field only." in client.post(url, twice).content.decode()
    upload_set.refresh_from_db()
    assert not upload_set.mapping_confirmed

    response = client.post(url, {**MAPPING, "date_order": "month_first", "currency": "eur"})
    assert response.status_code == 302
    upload_set.refresh_from_db()
    assert (upload_set.mapping, upload_set.date_order, upload_set.currency) == (MAPPING, "month_first", "EUR")
    assert "Build report" in client.get(url).content.decode()


def test_bob_builds_and_reads_the_report_with_its_charts(uploaded, bob, client_for):
    upload_set = uploaded(_three_months())
    client = client_for(bob)
    response = client.post(reverse("reports:build", args=[upload_set.pk]))
    report = Report.objects.get(upload_set=upload_set)
    assert response["Location"] == reverse("reports:report", args=[report.pk])
    waiting = client.get(response["Location"]).content.decode()
    assert 'data-status="queued"' in waiting
    assert "Waiting to start." in waiting and "cap.reports" not in waiting

    run_job.apply(args=[report.job_id])
    page = client.get(response["Location"]).content.decode()
    assert '<div class="value" id="total-revenue">$541.50</div>' in page
    assert '<div class="value" id="total-units">48</div>' in page
    assert '<svg class="chart"' in page and "Revenue per month from Jan 2025 to Mar 2025" in page
    assert 'style="' not in page  # CSP: no inline styles
    # East (60.00) is under half the median region (South, 181.50): flagged against its peers.
    assert '<tr><td>East</td><td><span class="badge badge-pending">Below peers</span></td>' in page


def test_the_status_partial_asks_htmx_for_the_whole_page_once_built(uploaded, bob, client_for):
    report = Report.objects.get(pk=_built_report(uploaded, bob).pk)
    response = client_for(bob).get(
        reverse("reports:report", args=[report.pk]), headers={"HX-Request": "true"}
    )
    assert response["HX-Refresh"] == "true"


def _built_report(uploaded, actor) -> Report:
    from capabilities.reports.actions import start_report

    report = start_report(actor, uploaded([upload("jan.csv", csv_bytes(month_rows(1)))]))
    run_job.apply(args=[report.job_id])
    return report


def test_downloads_are_xlsx_and_pdf(uploaded, bob, client_for):
    report = _built_report(uploaded, bob)
    client = client_for(bob)
    xlsx = client.get(reverse("reports:report_xlsx", args=[report.pk]))
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert xlsx["Content-Disposition"] == f'attachment; filename="report-{report.pk}-sales-2025.xlsx"'
    workbook = load_workbook(io.BytesIO(xlsx.content))
    assert workbook.sheetnames == ["Summary", "By month", "By region", "By SKU", "Flags", "Rows left out"]
    pdf = client.get(reverse("reports:report_pdf", args=[report.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")


def test_an_unbuilt_report_has_no_downloads(uploaded, bob, client_for):
    from capabilities.reports.actions import start_report

    report = start_report(bob, uploaded([upload("jan.csv", csv_bytes(month_rows(1)))]))
    assert client_for(bob).get(reverse("reports:report_pdf", args=[report.pk])).status_code == 404


def test_carol_billing_reads_but_cannot_upload_or_build(uploaded, carol, client_for):
    upload_set = uploaded([upload("jan.csv", csv_bytes(month_rows(1)))])
    client = client_for(carol)
    assert client.get(reverse("reports:index")).status_code == 200
    client.post(reverse("reports:index"), {"spreadsheets": [upload("feb.csv", csv_bytes(month_rows(2)))]})
    assert UploadSet.objects.count() == 1
    assert client.post(reverse("reports:build", args=[upload_set.pk])).status_code == 403
    assert not Report.objects.exists()


@pytest.mark.parametrize("name", ["reports:upload_set", "reports:build"])
def test_gina_gets_404_for_acmes_upload_set(
    uploaded, gina, client_for, name, django_capture_on_commit_callbacks
):
    from capabilities.actions import set_capability_enabled

    with django_capture_on_commit_callbacks(execute=True):
        set_capability_enabled(gina, gina.memberships.get().organization, "reports", enabled=True)
    upload_set = uploaded([upload("jan.csv", csv_bytes(month_rows(1)))])
    client = client_for(gina)
    response = client.post(reverse(name, args=[upload_set.pk]), {**MAPPING, "currency": "USD"})
    assert response.status_code == 404
    assert not Report.objects.exists()


def test_pages_answer_403_while_the_capability_is_off(acme, bob, client_for):
    response = client_for(bob).get(reverse("reports:index"))
    assert response.status_code == 403
    assert b"capability_disabled" in response.content


def test_the_index_query_count_does_not_grow_with_upload_sets(
    uploaded, bob, client_for, django_assert_max_num_queries
):
    for _ in range(12):
        uploaded([upload("jan.csv", csv_bytes(month_rows(1), header=HEADER))])
    client = client_for(bob)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("reports:index"))
    assert response.content.decode().count("Sales 2025") >= 12


def test_the_report_writes_quantities_with_separators_and_plurals(uploaded, bob, client_for):
    """Issue 13: "1 units" in the SKU list and "14089" as the total units."""
    rows = [
        [date(2025, 1, 3), "North", "A-100", 14088, Decimal("76322.96")],
        [date(2025, 1, 9), "South", "B-200", 1, Decimal("12.00")],
    ]
    upload_set = uploaded([upload("jan.csv", csv_bytes(rows))])
    client = client_for(bob)
    client.post(reverse("reports:build", args=[upload_set.pk]))
    report = Report.objects.get(upload_set=upload_set)
    run_job.apply(args=[report.job_id])
    page = " ".join(client.get(reverse("reports:report", args=[report.pk])).content.decode().split())
    assert '<div class="value" id="total-units">14,089</div>' in page
    assert "14,088 units</span>" in page
    assert "1 unit</span>" in page
    assert "1 units" not in page
    assert "<td>14,089</td>" in page  # the month's units
