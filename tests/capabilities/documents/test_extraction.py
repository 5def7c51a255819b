"""Reading text out of files, page by page, and refusing what cannot be read."""

from __future__ import annotations

import pytest

from capabilities.documents import extraction
from capabilities.documents.extraction import ExtractionError, content_kind, page_count, read_pages, sniff
from tests.capabilities.documents import samples

needs_tesseract = pytest.mark.skipif(not extraction.ocr_available(), reason="Tesseract is not installed")


def _pages(content: bytes, declared: str) -> list[extraction.PageText]:
    kind = content_kind(content, declared)
    return list(read_pages(content, kind))


def test_pdf_text_layer_page_by_page():
    content = samples.pdf("Invoice INV-2024-001 for Acme", "Second page about turbines")
    assert sniff(content[:1024]) == "pdf"
    assert page_count(content, "pdf") == 2
    pages = _pages(content, "pdf")
    assert [(page.number, page.method) for page in pages] == [(1, "text"), (2, "text")]
    assert "INV-2024-001" in pages[0].text
    assert "turbines" in pages[1].text


def test_content_decides_not_the_name():
    """A PDF named .txt is read as a PDF."""
    content = samples.pdf("Really a PDF")
    assert content_kind(content, "txt") == "pdf"


def test_docx_pages_split_at_hard_page_breaks():
    content = samples.docx_file("First page words", "Second page words")
    pages = _pages(content, "docx")
    assert [page.text for page in pages] == ["First page words", "Second page words"]


def test_long_text_is_cut_into_pages_at_line_ends():
    line = "word " * 19 + "\n"  # 96 characters
    pages = _pages((line * 100).encode(), "txt")
    assert len(pages) == 4  # 9,600 characters, at most 3,000 a page
    assert all(len(page.text) <= extraction.PAGE_CHARS for page in pages)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-8", "cp1252"])
def test_text_in_other_encodings(encoding):
    text = "Café déjà vu: naïve façade, Zürich Straße, crème brûlée au café de la gare.\n" * 3
    pages = _pages(text.encode(encoding), "txt")
    assert pages[0].text == text.strip()


def test_empty_file():
    with pytest.raises(ExtractionError, match=r"The file is empty \(0 bytes\)"):
        content_kind(b"", "pdf")


def test_blank_text_file():
    with pytest.raises(ExtractionError, match="holds no text"):
        _pages(b"   \n\n  ", "txt")


def test_png_that_is_not_one():
    with pytest.raises(ExtractionError, match="named as a PNG image but its content is not one"):
        content_kind(samples.NOT_A_PNG, "png")


def test_corrupt_pdf():
    with pytest.raises(ExtractionError, match="This PDF is damaged and cannot be read"):
        page_count(samples.CORRUPT_PDF, "pdf")


def test_truncated_pdf():
    content = samples.pdf("Some words")
    with pytest.raises(ExtractionError, match="damaged"):
        page_count(content[: len(content) // 3], "pdf")


def test_encrypted_pdf():
    with pytest.raises(ExtractionError, match="This PDF is password-protected"):
        page_count(samples.encrypted_pdf("secret plans"), "pdf")


def test_zip_bomb_named_docx_is_refused_unread(capability_settings, monkeypatch):
    capability_settings("documents", MAX_UNCOMPRESSED_MB=5)
    parsed = []
    monkeypatch.setattr("docx.Document", lambda *args: parsed.append(args))
    with pytest.raises(ExtractionError, match="would unpack to 8 MB, over the 5 MB limit"):
        _pages(samples.zip_bomb(8), "docx")
    assert parsed == []  # python-docx never saw it


def test_a_plain_zip_is_not_a_word_file():
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ExtractionError, match="zip archive, not a Word"):
        _pages(out.getvalue(), "docx")


def test_damaged_docx():
    content = samples.docx_file("words")
    broken = content[:200] + b"\0" * 50 + content[250:]
    with pytest.raises(ExtractionError, match="damaged"):
        _pages(broken, "docx")


@needs_tesseract
def test_image_is_read_by_ocr():
    pages = _pages(samples.image("Invoice 4711 total 250 EUR"), "png")
    assert pages[0].method == "ocr"
    assert "4711" in pages[0].text
    assert "Invoice" in pages[0].text


@needs_tesseract
def test_jpeg_is_read_by_ocr():
    pages = _pages(samples.image("Quarterly turbine report", "JPEG"), "jpeg")
    assert "turbine" in pages[0].text.lower()


@needs_tesseract
def test_scanned_pdf_page_is_read_by_ocr():
    content = samples.scanned_pdf("Scanned contract 8842")
    pages = _pages(content, "pdf")
    assert pages[0].method == "ocr"
    assert "8842" in pages[0].text


def test_without_tesseract_images_fail_clearly(monkeypatch):
    monkeypatch.setattr(extraction, "ocr_available", lambda: False)
    with pytest.raises(ExtractionError, match=r"Text recognition \(OCR\) is not installed"):
        _pages(samples.image("anything"), "png")


def test_without_tesseract_scanned_pdf_pages_stay_empty(monkeypatch):
    monkeypatch.setattr(extraction, "ocr_available", lambda: False)
    pages = _pages(samples.scanned_pdf("Scanned"), "pdf")
    assert [(page.text, page.method) for page in pages] == [("", "none")]


def test_damaged_image():
    content = samples.image("words")[:60]
    if not extraction.ocr_available():
        pytest.skip("Tesseract is not installed: images fail before they are opened")
    with pytest.raises(ExtractionError, match="This PNG image is damaged"):
        _pages(content, "png")


def test_highlight_markers_are_stripped_from_text():
    pages = _pages("a \ue000forged\ue001 mark and a NUL\x00".encode(), "txt")
    assert pages[0].text == "a forged mark and a NUL"
