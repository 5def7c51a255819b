"""Reading uploaded sales spreadsheets: CSV in whatever encoding it was saved
in (detected, or a clear error) and XLSX through openpyxl's read-only mode,
both as rows of cells under one header row, within the size and row limits."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from capabilities.capability_settings import capability_setting
from portal.uploads import UploadLimits

Cell = str | int | float | Decimal | date | datetime | None
PREVIEW_ROWS = 5


class SourceError(Exception):
    """A file we cannot read, with a message for the person who uploaded it."""


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_rows_per_file: int
    max_files: int
    max_request_bytes: int  # all files of one upload

    @property
    def max_file_megabytes(self) -> str:
        return f"{self.max_file_bytes / 1_000_000:g} MB"


def upload_limits() -> UploadLimits:
    """The limits of an upload of spreadsheets as the upload handler applies
    them while the request streams (413 past them)."""
    cap = limits()
    return UploadLimits(per_file=cap.max_file_bytes, per_request=cap.max_request_bytes, megabyte=1_000_000)


def limits() -> Limits:
    """From the capability's settings (REPORTS_MAX_*), so an operator can raise them."""
    return Limits(
        max_file_bytes=capability_setting("reports", "MAX_FILE_BYTES"),
        max_rows_per_file=capability_setting("reports", "MAX_ROWS_PER_FILE"),
        max_files=capability_setting("reports", "MAX_FILES"),
        max_request_bytes=capability_setting("reports", "MAX_REQUEST_BYTES"),
    )


@dataclass(frozen=True)
class Inspection:
    """What an upload is, read once when it arrives."""

    kind: str  # "csv" or "xlsx"
    encoding: str
    headers: list[str]
    preview: list[list[str]]
    row_count: int


# Byte-order marks say the encoding outright; UTF-32's come first because
# UTF-16 LE's is a prefix of UTF-32 LE's.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_csv(raw: bytes, name: str) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read as.

    A BOM decides; otherwise UTF-8 if the bytes are valid UTF-8, else
    Windows-1252 (Excel's "CSV" on Western Windows), else Latin-1. cp1252 is
    a superset of Latin-1's printable characters, so a Latin-1 file reads the
    same through it; only bytes cp1252 leaves undefined fall back to Latin-1.
    NUL bytes without a BOM mean UTF-16 without a BOM or not text at all: we
    say so rather than guess."""
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding.removesuffix("-sig")
            except UnicodeDecodeError:
                raise SourceError(
                    f"{name}: starts like {encoding.upper()} text but isn't valid {encoding.upper()}."
                ) from None
    if b"\x00" in raw:
        raise SourceError(
            f"{name}: this doesn't read as a text CSV (it may be UTF-16 without a byte-order mark, "
            "or not a CSV at all). Save it as CSV UTF-8 and upload it again."
        )
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise SourceError(f"{name}: the text encoding could not be recognised.")  # latin-1 decodes anything


def kind_of(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith(".xlsx"):
        return "xlsx"
    raise SourceError(f"{name}: only .csv and .xlsx files can be read (save .xls files as .xlsx).")


def _csv_rows(raw: bytes, name: str) -> tuple[str, Iterator[tuple[int, list[Cell]]]]:
    text, encoding = decode_csv(raw, name)
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for values in reader:
                yield reader.line_num, list(values)
        except csv.Error as error:
            raise SourceError(f"{name}: line {reader.line_num} is not valid CSV ({error}).") from None

    return encoding, rows()


# What openpyxl raises on a file that is not a workbook it can read: not a zip,
# a zip without the parts of a workbook, or parts that don't parse.
XLSX_ERRORS = (
    zipfile.BadZipFile,
    InvalidFileException,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    OSError,
    SyntaxError,  # xml.etree's ParseError
)


@contextmanager
def _xlsx_rows(stream: IO[bytes], name: str) -> Iterator[Iterator[tuple[int, list[Cell]]]]:
    if not zipfile.is_zipfile(stream):
        raise SourceError(f"{name}: this is not an XLSX workbook (the file is corrupt or another format).")
    stream.seek(0)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers record wrong dimensions; read what is there
    except XLSX_ERRORS:
        raise SourceError(f"{name}: this XLSX workbook is corrupt or unreadable.") from None

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
                yield number, list(values)
        except XLSX_ERRORS:
            raise SourceError(f"{name}: this XLSX workbook is corrupt or unreadable.") from None

    try:
        yield rows()
    finally:
        workbook.close()


def _is_blank(values: list[Cell]) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in values)


def header_names(values: list[Cell]) -> list[str]:
    """Header cells as names: blanks become "Column 3", repeats get " (2)"."""
    names: list[str] = []
    for index, value in enumerate(values, start=1):
        name = str(value).strip() if value is not None and str(value).strip() else f"Column {index}"
        candidate, copy = name, 2
        while candidate in names:
            candidate, copy = f"{name} ({copy})", copy + 1
        names.append(candidate)
    while names and names[-1].startswith("Column ") and len(names) > 1:
        names.pop()  # trailing empty header cells (XLSX sheets often carry them)
    return names


@dataclass
class Table:
    """The rows of one file under its header: `rows` yields (row number, cells)."""

    headers: list[str]
    rows: Iterator[tuple[int, list[Cell]]]


@contextmanager
def open_table(stream: IO[bytes], name: str, kind: str) -> Iterator[Table]:
    """Open a CSV or XLSX file as a header and its data rows (blank rows skipped)."""
    cap = limits()
    if kind == "csv":
        raw = stream.read(cap.max_file_bytes + 1)
        if not raw:
            raise SourceError(f"{name}: the file is empty.")
        _, rows = _csv_rows(raw, name)
        yield _table(rows, name)
        return
    with _xlsx_rows(stream, name) as rows:
        yield _table(rows, name)


def _table(rows: Iterator[tuple[int, list[Cell]]], name: str) -> Table:
    for _number, values in rows:
        if not _is_blank(values):
            headers = header_names(values)
            data = ((number, cells) for number, cells in rows if not _is_blank(cells))
            return Table(headers=headers, rows=data)
    raise SourceError(f"{name}: no header row was found (the file has no data).")


def cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds").removesuffix(" 00:00:00")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def inspect(stream: IO[bytes], name: str, size: int) -> Inspection:
    """Read an upload once: kind, encoding, header, the first rows and how many
    rows it has, refusing what breaks a limit or cannot be read."""
    cap = limits()
    kind = kind_of(name)
    if size == 0:
        raise SourceError(f"{name}: the file is empty.")
    if size > cap.max_file_bytes:
        raise SourceError(f"{name}: the file is larger than the {cap.max_file_megabytes} limit.")
    encoding = ""
    if kind == "csv":
        raw = stream.read(cap.max_file_bytes + 1)
        stream = io.BytesIO(raw)
        _, encoding = decode_csv(raw, name)
    preview: list[list[str]] = []
    count = 0
    with open_table(stream, name, kind) as table:
        for _number, values in table.rows:
            count += 1
            if count > cap.max_rows_per_file:
                raise SourceError(
                    f"{name}: more than {cap.max_rows_per_file:,} rows; the limit is "
                    f"{cap.max_rows_per_file:,} rows per file. Split it by month and upload the parts."
                )
            if len(preview) < PREVIEW_ROWS:
                preview.append([cell_text(value) for value in values[: len(table.headers)]])
        headers = table.headers
    return Inspection(kind=kind, encoding=encoding, headers=headers, preview=preview, row_count=count)
