"""Reading uploads: encodings, corrupt and empty files, limits."""

from __future__ import annotations

import io

import pytest

from capabilities.reports.sources import SourceError, inspect
from tests.capabilities.reports.conftest import HEADER, csv_bytes, xlsx_bytes

ROWS = [["2025-01-02", "Zürich", "Crème brûlée", 3, "30.00"], ["2025-01-05", "Café Nord", "B-2", 1, "9.99"]]


def _inspect(name: str, content: bytes):
    return inspect(io.BytesIO(content), name, len(content))


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8"),
        ("latin-1", "cp1252"),
        ("cp1252", "cp1252"),
        ("utf-16", "utf-16"),
    ],
)
def test_csv_encodings_are_detected(encoding, reported):
    found = _inspect("jan.csv", csv_bytes(ROWS, encoding=encoding))
    assert found.encoding == reported
    assert found.headers == HEADER
    assert found.preview[0][1:3] == ["Zürich", "Crème brûlée"]
    assert found.row_count == 2


def test_cp1252_only_characters_read_right():
    found = _inspect(
        "jan.csv", csv_bytes([["2025-01-02", "Nord \u2013 Süd", "€-Box", 1, "5"]], encoding="cp1252")
    )
    assert found.preview[0][1:3] == ["Nord \u2013 Süd", "€-Box"]


def test_utf16_without_a_bom_is_a_clear_error():
    content = csv_bytes(ROWS, encoding="utf-16-le")
    with pytest.raises(SourceError, match="UTF-16 without a byte-order mark"):
        _inspect("jan.csv", content)


def test_semicolon_csv_is_read():
    content = b"Date;Region;SKU;Units;Revenue\n2025-01-02;North;A;1;2.50\n"
    assert _inspect("jan.csv", content).headers == ["Date", "Region", "SKU", "Units", "Revenue"]


def test_xlsx_is_read_with_dates_and_numbers():
    from datetime import date

    found = _inspect("jan.xlsx", xlsx_bytes([[date(2025, 1, 2), "North", "A", 3, 12.5]]))
    assert found.kind == "xlsx"
    assert found.preview == [["2025-01-02", "North", "A", "3", "12.5"]]


@pytest.mark.parametrize("name", ["jan.csv", "jan.xlsx"])
def test_an_empty_file_is_refused(name):
    with pytest.raises(SourceError, match="the file is empty"):
        _inspect(name, b"")


def test_a_zip_that_is_not_a_workbook_is_refused():
    buffer = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    with pytest.raises(SourceError, match="corrupt or unreadable"):
        _inspect("jan.xlsx", buffer.getvalue())


def test_bytes_that_are_not_a_zip_are_refused_as_xlsx():
    with pytest.raises(SourceError, match="not an XLSX workbook"):
        _inspect("jan.xlsx", b"PK\x03\x04 truncated garbage")


def test_a_header_only_file_has_no_rows():
    assert _inspect("jan.csv", csv_bytes([])).row_count == 0


def test_other_extensions_are_refused():
    with pytest.raises(SourceError, match=r"only \.csv and \.xlsx"):
        _inspect("jan.xls", b"whatever")


def test_over_the_row_limit_is_refused(capability_settings):
    capability_settings("reports", MAX_ROWS_PER_FILE=3)
    rows = [["2025-01-02", "North", "A", 1, "1"]] * 4
    with pytest.raises(SourceError, match="more than 3 rows; the limit is 3 rows per file"):
        _inspect("big.csv", csv_bytes(rows))
    with pytest.raises(SourceError, match="more than 3 rows"):
        _inspect("big.xlsx", xlsx_bytes(rows))
    assert _inspect("ok.csv", csv_bytes(rows[:3])).row_count == 3


def test_over_the_size_limit_is_refused(capability_settings):
    capability_settings("reports", MAX_FILE_BYTES=100)
    with pytest.raises(SourceError, match=r"larger than the 0\.0001 MB limit"):
        _inspect("big.csv", csv_bytes(ROWS * 5))


def test_blank_and_repeated_headers_get_names():
    content = b"Date,,Date,Units\n2025-01-02,x,y,1\n"
    assert _inspect("jan.csv", content).headers == ["Date", "Column 2", "Date (2)", "Units"]
