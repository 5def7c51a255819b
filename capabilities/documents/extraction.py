"""Reading a document's text, page by page: the text layer of PDFs (pypdf),
Word files (python-docx), plain text in any encoding (charset-normalizer), and
OCR with Tesseract for images and PDF pages without a text layer (pages drawn
by pypdfium2). Everything here reads untrusted bytes: a file that cannot be
read raises ExtractionError with a message for the person who uploaded it."""

from __future__ import annotations

import io
import logging
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from capabilities.capability_settings import capability_setting

logger = logging.getLogger(__name__)

# Word files and plain text have no printed pages: their "pages" are the text
# between hard page breaks (form feeds in text), cut at paragraph ends into
# pieces of at most this many characters, about one printed page.
PAGE_CHARS = 3000
OCR_DPI = 200
EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "txt",
    ".text": "txt",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
}
KIND_NAMES = {"pdf": "PDF", "docx": "Word (DOCX)", "txt": "text", "png": "PNG image", "jpeg": "JPEG image"}
# Private-use characters: the search backends' highlight markers. Removed from
# extracted text, so a document cannot forge a highlight.
MARKERS = re.compile("[\ue000\ue001\x00]")


class ExtractionError(Exception):
    """The file cannot be read; the message says why, for its uploader."""


@dataclass(frozen=True)
class PageText:
    number: int
    text: str
    method: str  # "text", "ocr" or "none" (Page.Method)


def kind_from_name(name: str) -> str | None:
    return EXTENSIONS.get(PurePath(name).suffix.lower())


def sniff(head: bytes) -> str | None:
    """The kind the content says it is, from its first bytes (magic numbers);
    None for plain text and anything unknown."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if b"%PDF-" in head[:1024]:  # the header may follow some junk bytes
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx"
    return None


def content_kind(content: bytes, declared: str) -> str:
    """What to read the file as: its content decides; a file whose content
    has no signature is read as text only if it was named as text."""
    if not content:
        raise ExtractionError("The file is empty (0 bytes).")
    found = sniff(content[:1024])
    if found is not None:
        return found
    if declared == "txt":
        return "txt"
    raise ExtractionError(
        f"The file is named as a {KIND_NAMES[declared]} but its content is not one "
        "(it may be damaged or renamed)."
    )


def ocr_available() -> bool:
    return shutil.which("tesseract") is not None


def _ocr(image: object) -> str:
    import pytesseract

    try:
        return pytesseract.image_to_string(image, lang=capability_setting("documents", "OCR_LANGUAGE"))
    except pytesseract.TesseractNotFoundError:
        raise ExtractionError(
            "Text recognition (OCR) is not installed on this server, so images cannot be read."
        ) from None


def open_pages(content: bytes, kind: str) -> tuple[int, Iterator[PageText]]:
    """How many pages the file has (for progress and the page limit) and each
    page's text, in order, read lazily. The file is parsed once."""
    if kind == "pdf":
        reader = _pdf_reader(content)
        return len(reader.pages), _pdf_pages(reader, content)
    if kind in ("png", "jpeg"):
        return 1, _image_pages(content, kind)
    texts = _split_pages(_plain_text(content, kind))
    return len(texts), (
        PageText(number, text, "text" if text.strip() else "none")
        for number, text in enumerate(texts, start=1)
    )


def page_count(content: bytes, kind: str) -> int:
    return open_pages(content, kind)[0]


def read_pages(content: bytes, kind: str) -> Iterator[PageText]:
    return open_pages(content, kind)[1]


def _clean(text: str) -> str:
    return MARKERS.sub("", text).strip()


# --- PDF -------------------------------------------------------------------------


def _pdf_reader(content: bytes):  # type: ignore[no-untyped-def]
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            # Files with only an owner password (printing/copying limits) open
            # with an empty user password; the others need one we don't have.
            try:
                opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            except (DependencyError, FileNotDecryptedError, NotImplementedError):
                opened = False
            if not opened:
                raise ExtractionError("This PDF is password-protected. Upload a copy without a password.")
        reader.pages[0]  # a PDF without a readable page tree fails here, not midway
        return reader
    except ExtractionError:
        raise
    except Exception as error:  # noqa: BLE001  # pypdf raises many types on malformed input
        logger.info("Unreadable PDF: %r", error)
        raise ExtractionError("This PDF is damaged and cannot be read.") from None


def _pdf_pages(reader, content: bytes) -> Iterator[PageText]:  # type: ignore[no-untyped-def]
    rendered = None
    for index, page in enumerate(reader.pages):
        try:
            text = _clean(page.extract_text() or "")
        except Exception as error:  # noqa: BLE001  # one bad page's text layer: try OCR instead
            logger.info("Unreadable text layer on page %s: %r", index + 1, error)
            text = ""
        if text:
            yield PageText(index + 1, text, "text")
            continue
        # No text layer: a scanned page. Draw it and recognise its text.
        if not ocr_available():
            yield PageText(index + 1, "", "none")
            continue
        if rendered is None:
            rendered = _open_pdfium(content)
        image = rendered[index].render(scale=OCR_DPI / 72).to_pil()
        text = _clean(_ocr(image))
        yield PageText(index + 1, text, "ocr" if text else "none")


def _open_pdfium(content: bytes):  # type: ignore[no-untyped-def]
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(content)
    except pypdfium2.PdfiumError:
        raise ExtractionError("This PDF's scanned pages cannot be drawn for text recognition.") from None


# --- images -----------------------------------------------------------------------


def _image_pages(content: bytes, kind: str) -> Iterator[PageText]:
    yield PageText(1, _clean(_image_text(content, kind)), "ocr")


def _image_text(content: bytes, kind: str) -> str:
    from PIL import Image, UnidentifiedImageError

    if not ocr_available():
        raise ExtractionError(
            "Text recognition (OCR) is not installed on this server, so images cannot be read."
        )
    try:
        image = Image.open(io.BytesIO(content))
        image.load()
    except Image.DecompressionBombError:
        raise ExtractionError("This image is too large to read (too many pixels).") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ExtractionError(f"This {KIND_NAMES[kind]} is damaged and cannot be read.") from None
    return _ocr(image)


# --- Word and plain text -----------------------------------------------------------

FORM_FEED = "\f"


def _plain_text(content: bytes, kind: str) -> str:
    return _docx_text(content) if kind == "docx" else _decoded(content)


def _decoded(content: bytes) -> str:
    """UTF-8 when it decodes as UTF-8; otherwise charset-normalizer's guess.
    Short texts in single-byte encodings fit several code pages equally well;
    among guesses about as clean as the best, Windows-1252 (Western Europe,
    a superset of Latin-1 in practice) wins, being by far the most common."""
    from charset_normalizer import from_bytes

    if not content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = ""
        else:
            return _require_text(text)
    matches = list(from_bytes(content))
    if not matches:
        raise ExtractionError("This file is not text in any encoding we recognise.")
    best = matches[0]
    western = [
        match
        for match in matches
        if "cp1252" in match.could_be_from_charset and match.chaos <= best.chaos + 0.1
    ]
    return _require_text(str(western[0] if western else best))


def _require_text(text: str) -> str:
    if not text.strip():
        raise ExtractionError("The file holds no text (only blank characters).")
    return text


def _check_zip(content: bytes) -> zipfile.ZipFile:
    """Refuse a zip that would inflate past the limit before anything parses
    it. zipfile never reads past a member's declared size, so the declared
    sizes are what parsing can cost."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ExtractionError("This Word file is damaged and cannot be read.") from None
    limit_mb = capability_setting("documents", "MAX_UNCOMPRESSED_MB")
    inflated = sum(member.file_size for member in members)
    if inflated > limit_mb * 1024 * 1024:
        raise ExtractionError(
            f"This Word file would unpack to {inflated // (1024 * 1024):,} MB, over the "
            f"{limit_mb} MB limit; it was refused unread."
        )
    if "word/document.xml" not in archive.namelist():
        raise ExtractionError("This file is a zip archive, not a Word (DOCX) document.")
    return archive


def _docx_text(content: bytes) -> str:
    import docx
    from docx.text.paragraph import Paragraph

    _check_zip(content)
    try:
        document = docx.Document(io.BytesIO(content))
        parts: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                # A hard page break (Ctrl+Enter), or one Word drew when it saved.
                if block._p.xpath('.//w:br[@w:type="page"]') or block.contains_page_break:
                    parts.append(FORM_FEED)
                parts.append(block.text)
            else:  # a table: its cells, row by row
                for row in block.rows:
                    parts.append(" | ".join(cell.text for cell in row.cells))
    except Exception as error:  # noqa: BLE001  # python-docx and lxml raise many types
        logger.info("Unreadable DOCX: %r", error)
        raise ExtractionError("This Word file is damaged and cannot be read.") from None
    text = "\n".join(parts)
    if not text.strip():
        raise ExtractionError("This Word file holds no text.")
    return text


def _split_pages(text: str) -> list[str]:
    """Hard page breaks first, then pieces of at most PAGE_CHARS at line ends."""
    pages: list[str] = []
    for section in text.split(FORM_FEED):
        current = ""
        for line in section.splitlines(keepends=True):
            while len(line) > PAGE_CHARS:  # one very long line: cut it
                if current:
                    pages.append(current)
                    current = ""
                pages.append(line[:PAGE_CHARS])
                line = line[PAGE_CHARS:]
            if len(current) + len(line) > PAGE_CHARS:
                pages.append(current)
                current = ""
            current += line
        if current.strip():
            pages.append(current)
    return [_clean(page) for page in pages if page.strip()] or [""]
