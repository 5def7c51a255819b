"""Downloads of a built report: XLSX (openpyxl) and PDF (fpdf2). Every text
cell we write to the workbook goes through metering.csv_export.neutralise, so
a SKU named `=cmd|' /C calc'!A0` stays text; our own numbers stay numbers."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, TableCellFillMode
from openpyxl import Workbook

from capabilities.reports import narrative
from metering import formatting
from metering.csv_export import neutralise

XlsxCell = str | int | Decimal | None


def _cell(value: Any) -> XlsxCell:
    """Numbers we computed stay numbers; everything else is neutralised text."""
    if value is None or (isinstance(value, int | Decimal) and not isinstance(value, bool)):
        return value
    return neutralise(str(value))


def _amount(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def xlsx_bytes(title: str, figures: dict[str, Any]) -> bytes:
    workbook = Workbook(write_only=True)
    totals = figures["totals"]
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        (
            "Summary",
            ["Measure", "Value"],
            [
                ["Report", title],
                ["Currency", figures["currency"]],
                ["First month", totals["first_month"]],
                ["Last month", totals["last_month"]],
                ["Revenue", _amount(totals["revenue"])],
                ["Units", totals["units"]],
                ["Average price", _amount(totals["average_price"])],
                ["Rows used", totals["rows"]],
                ["Rows left out", totals["bad_rows"]],
                ["Files", totals["files"]],
                ["Regions", totals["regions"]],
                ["SKUs", totals["skus"]],
            ],
        ),
        (
            "By month",
            ["Month", "Revenue", "Units", "Average price"],
            [
                [row["month"], _amount(row["revenue"]), row["units"], _amount(row["average_price"])]
                for row in figures["months"]
            ],
        ),
        (
            "By region",
            ["Region", "Revenue", "Units", "Average price", "Share %"],
            [
                [
                    row["region"],
                    _amount(row["revenue"]),
                    row["units"],
                    _amount(row["average_price"]),
                    Decimal(row["share_percent"]),
                ]
                for row in figures["regions"]
            ],
        ),
        (
            "By SKU",
            ["Rank", "SKU", "Revenue", "Units", "Average price"],
            [
                [
                    row["rank"],
                    row["sku"],
                    _amount(row["revenue"]),
                    row["units"],
                    _amount(row["average_price"]),
                ]
                for row in figures["skus"]
            ],
        ),
        (
            "Flags",
            ["Region", "Rule", "Reason"],
            [[flag["region"], flag["rule"], flag["reason"]] for flag in figures["flags"]],
        ),
        (
            "Rows left out",
            ["File", "Row", "Reason"],
            [[bad["file"], bad["row"], bad["reason"]] for bad in figures["bad_rows"]],
        ),
    ]
    for name, header, rows in sheets:
        sheet = workbook.create_sheet(name)
        sheet.append([_cell(value) for value in header])
        for row in rows:
            sheet.append([_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# The PDF's core fonts speak Latin-1 only; other characters print as "?".
TYPOGRAPHY = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00b7": "-", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)


def _latin1(text: Any) -> str:
    return str(text).translate(TYPOGRAPHY).encode("latin-1", "replace").decode("latin-1")


def _money(text: str | None, currency: str) -> str:
    if text is None:
        return "-"
    return _latin1(formatting.money(Decimal(text), currency.lower()))


class _ReportPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110)
        self.cell(0, 6, f"Switchboard sales report - page {self.page_no()}", align="C")


# The web report's palette: a light header row, zebra rows, hairline rules, ink
# text; the chart's bars are the only saturated colour. Every drawing sets its
# colours in a local context, so none leaks into what is drawn after it.
INK = (15, 23, 42)
MUTED = (100, 116, 139)
RULE = (226, 232, 240)
HEADER_FILL = (241, 245, 249)
ZEBRA_FILL = (248, 250, 252)
BAR = (37, 99, 235)


NUMBER = re.compile(r"^[-$€£¥]?[\d,.]+%?$|^-$")


def _alignments(rows: list[list[str]], columns: int) -> tuple[str, ...]:
    """Columns of numbers (amounts, counts, shares) right-aligned, as on the page."""
    return tuple(
        "RIGHT" if rows and all(NUMBER.match(str(row[index])) for row in rows) else "LEFT"
        for index in range(columns)
    )


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: tuple[int, ...]) -> None:
    with (
        pdf.local_context(
            font_family="Helvetica",
            font_size_pt=9,
            font_style="",
            text_color=INK,
            draw_color=RULE,
            line_width=0.2,
        ),
        pdf.table(
            col_widths=widths,
            text_align=_alignments(rows, len(header)),
            line_height=5.5,
            first_row_as_headings=True,
            headings_style=FontFace(emphasis="BOLD", color=INK, fill_color=HEADER_FILL),
            cell_fill_color=ZEBRA_FILL,
            cell_fill_mode=TableCellFillMode.EVEN_ROWS,
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        ) as table,
    ):
        table.row([_latin1(cell) for cell in header])
        for row in rows:
            table.row([_latin1(cell) for cell in row])
    pdf.ln(4)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, _latin1(text), new_x="LMARGIN", new_y="NEXT")


def _bar_chart(pdf: FPDF, figures: dict[str, Any]) -> None:
    """Revenue per month as bars, drawn with the PDF's own shapes, on a scale
    with its zero, half and top marked (in the report's currency)."""
    months = figures["months"]
    if not months:
        return
    axis = 24  # room for the scale's labels
    left, top, width, height = pdf.l_margin + axis, pdf.get_y() + 3, pdf.epw - axis, 55
    amounts = [max(Decimal(row["revenue"]), Decimal(0)) for row in months]
    ceiling = max(max(amounts), Decimal(1))
    slot = width / len(months)
    with pdf.local_context(
        font_family="Helvetica",
        font_size_pt=7,
        font_style="",
        text_color=MUTED,
        draw_color=RULE,
        line_width=0.2,
    ):
        for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
            y = top + height - float(fraction) * height
            pdf.line(left, y, left + width, y)
            pdf.set_xy(pdf.l_margin, y - 2)
            pdf.cell(axis - 2, 4, _money(str(ceiling * fraction), figures["currency"]), align="R")
        with pdf.local_context(fill_color=BAR):
            for index, amount in enumerate(amounts):
                bar = float(amount / ceiling) * height
                if bar > 0:
                    pdf.rect(
                        left + index * slot + slot * 0.15, top + height - bar, slot * 0.7, bar, style="F"
                    )
        for index, row in enumerate(months):
            if len(months) <= 12 or index % 2 == 0:
                pdf.set_xy(left + index * slot + slot * 0.15 - 2, top + height + 1)
                pdf.cell(slot * 0.7 + 4, 4, row["month"], align="C")
    pdf.set_y(top + height + 8)


def pdf_bytes(title: str, figures: dict[str, Any], *, compress: bool = True) -> bytes:
    """`compress=False` leaves the page content readable (tests look into it)."""
    currency = figures["currency"]
    totals = figures["totals"]
    pdf = _ReportPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_compression(compress)
    pdf.set_title(_latin1(title))
    pdf.set_author("Switchboard")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.cell(0, 10, _latin1(f"Sales report: {title}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(
        0,
        6,
        _latin1(f"{totals['first_month']} to {totals['last_month']}, {currency}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    _heading(pdf, "Summary")
    with pdf.local_context(font_family="Helvetica", font_size_pt=10, font_style="", text_color=INK):
        pdf.multi_cell(0, 5.5, _latin1(narrative.summary_of(figures)["text"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _table(
        pdf,
        ["Revenue", "Units", "Average price", "Rows used", "Rows left out"],
        [
            [
                _money(totals["revenue"], currency),
                f"{totals['units']:,}",
                _money(totals["average_price"], currency),
                f"{totals['rows']:,}",
                f"{totals['bad_rows']:,}",
            ]
        ],
        (40, 30, 35, 30, 35),
    )
    _heading(pdf, "Revenue per month")
    _bar_chart(pdf, figures)
    _table(
        pdf,
        ["Month", "Revenue", "Units", "Average price"],
        [
            [
                row["month"],
                _money(row["revenue"], currency),
                f"{row['units']:,}",
                _money(row["average_price"], currency),
            ]
            for row in figures["months"]
        ],
        (40, 50, 40, 50),
    )
    _heading(pdf, "By region")
    _table(
        pdf,
        ["Region", "Revenue", "Units", "Share"],
        [
            [row["region"], _money(row["revenue"], currency), f"{row['units']:,}", f"{row['share_percent']}%"]
            for row in figures["regions"]
        ],
        (60, 50, 35, 35),
    )
    _heading(pdf, "Top-selling SKUs")
    _table(
        pdf,
        ["#", "SKU", "Revenue", "Units"],
        [
            [str(row["rank"]), row["sku"], _money(row["revenue"], currency), f"{row['units']:,}"]
            for row in figures["skus"][: len(figures["top_skus"])]
        ],
        (12, 78, 50, 40),
    )
    _heading(pdf, "Underperforming regions")
    if figures["flags"]:
        _table(
            pdf,
            ["Region", "Rule", "Why"],
            [[flag["region"], flag["rule"], flag["reason"]] for flag in figures["flags"]],
            (35, 20, 125),
        )
    else:
        pdf.set_font("Helvetica", size=10)
        pdf.cell(0, 6, "None under either rule.", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    if figures["bad_rows"]:
        _heading(pdf, f"Rows left out ({totals['bad_rows']:,})")
        _table(
            pdf,
            ["File", "Row", "Reason"],
            [[bad["file"], str(bad["row"]), bad["reason"]] for bad in figures["bad_rows"][:50]],
            (50, 15, 115),
        )
    return bytes(pdf.output())
