"""Small documents made on the fly for the tests: PDFs with a text layer
(fpdf2), a scanned PDF and images with text drawn on them (Pillow), Word files
(python-docx), and the bad inputs (corrupt, encrypted, zip bomb, impostors)."""

from __future__ import annotations

import io
import zipfile

import docx
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter


def pdf(*pages: str) -> bytes:
    document = FPDF()
    document.set_font("helvetica", size=12)
    for text in pages:
        document.add_page()
        document.multi_cell(0, 8, text)
    return bytes(document.output())


def image(text: str, kind: str = "PNG") -> bytes:
    """Black text on white, large enough for Tesseract to read."""
    picture = Image.new("RGB", (1400, 200), "white")
    font = ImageFont.load_default(size=48)
    ImageDraw.Draw(picture).text((30, 60), text, fill="black", font=font)
    out = io.BytesIO()
    picture.save(out, kind)
    return out.getvalue()


def scanned_pdf(text: str) -> bytes:
    """A PDF whose only page is a picture: no text layer."""
    picture = Image.open(io.BytesIO(image(text)))
    out = io.BytesIO()
    picture.save(out, "PDF", resolution=150)
    return out.getvalue()


def encrypted_pdf(text: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(text))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_file(*pages: str) -> bytes:
    """A Word file with a hard page break between `pages`."""
    document = docx.Document()
    for index, text in enumerate(pages):
        paragraph = document.add_paragraph()
        if index:
            paragraph.add_run().add_break(docx.enum.text.WD_BREAK.PAGE)
        paragraph.add_run(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb(inflated_mb: int) -> bytes:
    """A zip named like a Word file whose document.xml inflates to `inflated_mb` MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(inflated_mb):
                member.write(block)
    return out.getvalue()


CORRUPT_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nthis is not a pdf body\n%%EOF"
NOT_A_PNG = b"Hello, I am plain text pretending to be a PNG image.\n"
