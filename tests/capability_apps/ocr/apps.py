"""Test capability: recognises text in pages (no real OCR; a fixture for the framework)."""

from decimal import Decimal

from capabilities.registry import BETA, CapabilityConfig, JobKind, Meter, Version


class OcrConfig(CapabilityConfig):
    name = "tests.capability_apps.ocr"
    label = "test_ocr"
    key = "ocr"
    verbose_name = "Text recognition"
    summary = "Turns scanned pages into text."
    category = "Documents"
    meters = (Meter("pages", "page", Decimal("0.010")),)
    job_kinds = {
        "recognize": JobKind(
            "tests.capability_apps.ocr.jobs.recognize",
            input="tests.capability_apps.ocr.forms.RecognizeInput",
            label="Recognise pages",
            by_hand=True,
        ),
        "noop": "tests.capability_apps.ocr.jobs.noop",
        "explode": "tests.capability_apps.ocr.jobs.explode",
        "kill_worker": "tests.capability_apps.ocr.jobs.kill_worker",
    }
    versions = (
        Version("1.0.0", notes="Recognises printed text."),
        Version(
            "2.0.0",
            BETA,
            notes="A new engine that also reads two-column pages.",
            prices=(("pages", Decimal("0.005")),),
            job_kinds=(
                (
                    "recognize",
                    JobKind(
                        "tests.capability_apps.ocr.jobs.recognize_two_columns",
                        input="tests.capability_apps.ocr.forms.RecognizeInput",
                        label="Recognise pages",
                        by_hand=True,
                    ),
                ),
            ),
        ),
    )
