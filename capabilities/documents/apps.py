"""The Documents capability's declaration: meters, job kind, navigation, settings."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from capabilities.registry import BETA, CapabilityConfig, DemoMeter, JobKind, Meter, NavEntry, Version

if TYPE_CHECKING:
    from portal.models import Organization, User


class DocumentsConfig(CapabilityConfig):
    name = "capabilities.documents"
    label = "documents"
    key = "documents"
    verbose_name = "Documents"
    summary = "Upload PDFs, Word files, text and scans; extract their text and key fields; search them."
    category = "Documents"
    meters = (
        Meter("pages", "page", Decimal("0.01"), description="Pages whose text was extracted"),
        Meter("searches", "search", Decimal("0.001"), description="Full-text searches"),
    )
    job_kinds = {
        "extract": JobKind(
            "capabilities.documents.jobs.extract",
            input="capabilities.documents.forms.ExtractInput",
            label="Extract text and fields",
        )
    }
    nav = NavEntry("Documents", "index")
    versions = (
        Version(
            "1.0.0",
            notes="Reads PDFs (with OCR for scans), Word files and text; finds dates, amounts, "
            "invoice and contract numbers and parties.",
        ),
        Version(
            "1.1.0",
            BETA,
            notes="A better field finder: also bank accounts (IBANs, kept only when their check digits "
            "hold), VAT numbers and payment due dates. Half price per page while it is in beta.",
            prices=(("pages", Decimal("0.005")),),
            job_kinds=(
                (
                    "extract",
                    JobKind(
                        "capabilities.documents.jobs.extract_more_fields",
                        input="capabilities.documents.forms.ExtractInput",
                        label="Extract text and fields",
                    ),
                ),
            ),
        ),
    )
    demo_usage = (DemoMeter("pages", 16, 3.5), DemoMeter("searches", 22))
    demo_reason = "Stop retyping supplier invoices and contracts: read and search them instead"
    default_settings = {
        # Upload limits: per file, files per upload, all files of one upload.
        "MAX_UPLOAD_MB": 20,
        "MAX_FILES": 20,
        "MAX_REQUEST_MB": 100,
        "MAX_PAGES": 500,  # per document
        # A DOCX is a zip: refuse before parsing when it would inflate past this.
        "MAX_UNCOMPRESSED_MB": 100,
        "OCR_LANGUAGE": "eng",  # Tesseract's language code
        "SEARCH_CONFIG": "english",  # PostgreSQL text search configuration
    }

    def demo_content(self, organization: Organization, actor: User) -> list[str]:
        from capabilities.documents import demo

        return demo.create(organization, actor)
