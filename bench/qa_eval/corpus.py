"""The evaluation set as files to upload: each source under documents/ is
rendered as the format FORMATS gives it (a PDF through fpdf2, a Word file
through python-docx, or plain text with form feeds between pages), so the
portal's real extraction reads it; and the questions of questions.json."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "documents"
QUESTIONS = HERE / "questions.json"
# Two sets written by helpers who never saw how answers are checked
# (capabilities/qa/answerability.py): the held-out set was written first and
# its results were looked at while the checks were designed; the blind set
# was written at the same time and first run once the design was fixed.
HELD_OUT = HERE / "questions_heldout.json"
BLIND = HERE / "questions_blind.json"
# Written by a helper who never saw the answering code, first run once the
# "what date" and "who did" checks and the title's weight (designed looking
# at the blind set's results) were fixed.
FRESH = HERE / "questions_fresh.json"
# Written by a helper who never saw the answering code or any result; first
# run once, on the unchanged code (a60fa7d), then looked at: no longer blind.
FRESH2 = HERE / "questions_fresh2.json"
# Written by a helper who never saw the answering code or any result, kept
# blind for the next design change; first run once, on the unchanged code
# (4ccae6c, twelfth session), when no such change was coming: no longer blind.
FRESH3 = HERE / "questions_fresh3.json"
PAGE_BREAK = "----- page break -----"
# Words too common to count as a keyword a question shares with its answer.
STOPWORDS = frozenset(
    [
        "about",
        "after",
        "before",
        "does",
        "from",
        "have",
        "many",
        "much",
        "must",
        "their",
        "there",
        "they",
        "this",
        "what",
        "what's",
        "when",
        "where",
        "which",
        "with",
        "your",
    ]
)

FORMATS = {
    "imaging-vendor-agreement": "pdf",
    "office-lease": "pdf",
    "invoice-lumen-q2": "pdf",
    "mutual-nda": "pdf",
    "cleaning-services-contract": "docx",
    "invoice-brightway-march": "docx",
    "travel-expense-policy": "docx",
    "data-retention-policy": "docx",
}


@dataclass(frozen=True)
class EvalDocument:
    name: str  # the uploaded file's name, e.g. "office-lease.pdf"
    kind: str
    content: bytes


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    document: str | None  # None: nothing in the set answers it
    page: int | None
    span: str | None
    paraphrased: bool


def _source_pages(path: Path) -> list[list[str]]:
    """Each page's paragraphs (non-empty lines)."""
    text = path.read_text(encoding="utf-8")
    return [
        [line.rstrip() for line in page.strip("\n").splitlines() if line.strip()]
        for page in text.split(PAGE_BREAK)
    ]


def _pdf(pages: list[list[str]]) -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.set_font("helvetica", size=11)
    for paragraphs in pages:
        document.add_page()
        for paragraph in paragraphs:
            document.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            document.ln(2)
    return bytes(document.output())


def _docx(pages: list[list[str]]) -> bytes:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    for number, paragraphs in enumerate(pages):
        for index, paragraph in enumerate(paragraphs):
            block = document.add_paragraph()
            if number and not index:
                block.add_run().add_break(WD_BREAK.PAGE)
            block.add_run(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _txt(pages: list[list[str]]) -> bytes:
    return "\n\f\n".join("\n\n".join(paragraphs) for paragraphs in pages).encode("utf-8")


RENDER = {"pdf": _pdf, "docx": _docx, "txt": _txt}


def documents() -> list[EvalDocument]:
    rendered = []
    for path in sorted(SOURCES.glob("*.txt")):
        kind = FORMATS.get(path.stem, "txt")
        rendered.append(EvalDocument(f"{path.stem}.{kind}", kind, RENDER[kind](_source_pages(path))))
    return rendered


def extracted_pages(document: EvalDocument) -> list[str]:
    """The pages' text as the Documents capability extracts it."""
    from capabilities.documents.extraction import content_kind, read_pages

    return [page.text for page in read_pages(document.content, content_kind(document.content, document.kind))]


def questions(source: Path = QUESTIONS) -> list[Question]:
    return [
        Question(
            id=entry["id"],
            question=entry["question"],
            document=entry.get("document"),
            page=entry.get("page"),
            span=entry.get("span"),
            paraphrased=entry.get("paraphrased", False),
        )
        for entry in json.loads(source.read_text(encoding="utf-8"))
    ]


def keywords(text: str) -> set[str]:
    """Content words of `text` (four letters or more, not a stopword), cut to
    five letters so that "renew" and "renews" count as one."""
    return {word[:5] for word in re.findall(r"[a-z0-9']+", text.lower()) if len(word) >= 4} - {
        word[:5] for word in STOPWORDS
    }
