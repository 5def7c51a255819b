"""The extraction job end to end (in-process runner): upload, read, pages
stored and searchable, fields found, pages billed only when it succeeds; bad
files fail clearly without touching the rest of their batch."""

from __future__ import annotations

import pytest

from capabilities.documents import actions, search
from capabilities.documents.models import Document, Page
from capabilities.models import Job
from capabilities.runner import _run
from metering.models import UsageEvent
from portal.actions.errors import ActionError
from tests.capabilities.documents import samples
from tests.capabilities.documents.conftest import upload_file


def _usage(organization, meter: str) -> int:
    return sum(
        UsageEvent.objects.filter(organization=organization, capability="documents", meter=meter).values_list(
            "quantity", flat=True
        )
    )


def test_a_pdf_is_extracted_stored_and_billed_per_page(extracted, acme, alice, media_root):
    [document] = extracted(
        ("invoice.pdf", samples.pdf("Invoice No: INV-77 dated 2024-05-01", "Total $99.50"))
    )
    assert document.job.status == Job.Status.SUCCEEDED
    assert (document.job.progress_done, document.job.progress_total) == (2, 2)
    assert document.kind == "pdf"
    assert document.page_count == 2
    assert list(document.pages.values_list("number", "method")) == [(1, "text"), (2, "text")]
    assert document.fields["invoice_numbers"][0]["value"] == "INV-77"
    assert document.fields["amounts"][0] == {"text": "$99.50", "currency": "USD", "amount": "99.50"}
    assert document.job.result["pages"] == 2
    assert _usage(acme, "pages") == 2
    # Stored per organization through the storage API.
    assert document.file.name.startswith(f"documents/org-{acme.pk}/")
    assert (media_root / document.file.name).read_bytes()[:5] == b"%PDF-"
    assert document.uploaded_by == alice


def test_a_first_extraction_takes_four_statements_and_writes_no_progress_of_its_own(
    documents_on, alice, acme, django_assert_num_queries
):
    """The claim, the document's read, its pages and fields stored (one
    statement where the row's lock, the pages, the row and the commit took
    five), the result. A 2-page PDF read at once writes no progress; its bar
    still ends full."""
    [document] = actions.upload_documents(
        alice, acme, [upload_file("two.pdf", samples.pdf("Invoice No: INV-78", "Total $5.00"))]
    ).documents
    assert document.job is not None
    with django_assert_num_queries(4):
        assert _run(document.job.pk) == Job.Status.SUCCEEDED
    document.refresh_from_db()
    assert document.page_count == 2 and document.extracted_by_id == document.job.pk
    assert list(document.pages.values_list("number", flat=True)) == [1, 2]
    assert [hit.page_number for hit in search.search(acme.pk, "INV-78")] == [1]
    document.job.refresh_from_db()
    assert (document.job.progress_done, document.job.progress_total) == (2, 2)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.pdf", samples.CORRUPT_PDF, "This PDF is damaged and cannot be read."),
        ("locked.pdf", samples.encrypted_pdf("secret"), "This PDF is password-protected."),
        ("fake.png", samples.NOT_A_PNG, "named as a PNG image but its content is not one"),
    ],
)
def test_bad_files_fail_with_a_clear_message_and_nothing_billed(extracted, acme, name, content, message):
    [document] = extracted((name, content))
    assert document.job.status == Job.Status.FAILED
    assert message in document.job.error
    assert document.job.error_code == "job_failed"
    assert not document.pages.exists()
    assert not UsageEvent.objects.filter(organization=acme).exists()


def test_a_zip_bomb_named_docx_fails_unread(extracted, acme, capability_settings):
    capability_settings("documents", MAX_UNCOMPRESSED_MB=5)
    [document] = extracted(("report.docx", samples.zip_bomb(8)))
    assert document.job.status == Job.Status.FAILED
    assert "over the 5 MB limit; it was refused unread" in document.job.error
    assert not UsageEvent.objects.filter(organization=acme).exists()


def test_one_bad_file_loses_nothing_else_in_its_batch(extracted, acme):
    documents = extracted(
        ("good.pdf", samples.pdf("Turbine maintenance schedule")),
        ("broken.pdf", samples.CORRUPT_PDF),
        ("notes.txt", "Überprüfung der Turbinen, café".encode("latin-1")),
        ("locked.pdf", samples.encrypted_pdf("x")),
        ("letter.docx", samples.docx_file("Dear Globex", "Kind regards")),
    )
    statuses = {document.name: document.job.status for document in documents}
    assert statuses == {
        "good.pdf": "succeeded",
        "broken.pdf": "failed",
        "notes.txt": "succeeded",
        "locked.pdf": "failed",
        "letter.docx": "succeeded",
    }
    assert Page.objects.get(document__name="notes.txt").text == "Überprüfung der Turbinen, café"
    assert _usage(acme, "pages") == 1 + 1 + 2
    assert [hit.document_name for hit in search.search(acme.pk, "turbine")] == ["good.pdf"]


def test_upload_refuses_oversized_and_unsupported_files_only(documents_on, alice, acme, capability_settings):
    capability_settings("documents", MAX_UPLOAD_MB=1)
    result = actions.upload_documents(
        alice,
        acme,
        [
            upload_file("big.txt", b"a" * (1024 * 1024 + 1)),
            upload_file("tool.exe", b"MZ\x90\x00binary"),
            upload_file("ok.txt", b"fine"),
        ],
    )
    assert [document.name for document in result.documents] == ["ok.txt"]
    assert [(rejection.name, rejection.message) for rejection in result.rejected] == [
        ("big.txt", "It is 1.0 MB; the limit is 1 MB."),
        (
            "tool.exe",
            "This type of file is not supported. Upload one of: .docx, .jpeg, .jpg, .pdf, .png, .text, .txt.",
        ),
    ]
    assert Document.objects.filter(organization=acme).count() == 1


def test_upload_needs_files_and_caps_their_number(documents_on, alice, acme, capability_settings):
    with pytest.raises(ActionError, match="Choose at least one file"):
        actions.upload_documents(alice, acme, [])
    capability_settings("documents", MAX_FILES=2)
    with pytest.raises(ActionError, match="at most 2 files at a time; you chose 3"):
        actions.upload_documents(alice, acme, [upload_file(f"{n}.txt", b"x") for n in range(3)])


def test_a_pdf_over_the_page_limit_fails(extracted, capability_settings):
    capability_settings("documents", MAX_PAGES=2)
    [document] = extracted(("long.pdf", samples.pdf("one", "two", "three")))
    assert document.job.error == "This document has 3 pages; the limit is 2 per document."


def test_a_second_run_of_the_same_job_neither_duplicates_pages_nor_bills_twice(extracted, acme):
    [document] = extracted(("a.txt", b"Once upon a time"))
    Job.objects.filter(pk=document.job.pk).update(status=Job.Status.RUNNING)  # as if redelivered midway
    _run(document.job.pk)
    assert document.pages.count() == 1
    assert _usage(acme, "pages") == 1
    assert len(search.search(acme.pk, "time")) == 1


def test_a_document_deleted_before_its_job_fails_it(documents_on, alice, acme):
    result = actions.upload_documents(alice, acme, [upload_file("a.txt", b"hello")])
    job = result.documents[0].job
    Document.objects.filter(pk=result.documents[0].pk).delete()
    _run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "The document was deleted before it could be read.")


INVOICE_WITH_BANK_DETAILS = (
    "Invoice No: INV-88 dated 2024-05-01\n"
    "VAT no.: DE 123456789\n"
    "IBAN: DE89 3704 0044 0532 0130 00\n"
    "Payment due by 31 May 2024\n"
    "Total 120.00 EUR"
)


def test_the_beta_extraction_finds_bank_details_and_stable_does_not(
    extracted, acme, alice, django_capture_on_commit_callbacks
):
    """Version 1.1 (beta) of Documents' extraction: the organization opts in,
    and its next upload's fields have due dates, IBANs and VAT numbers."""
    from capabilities import releases

    [on_stable] = extracted(("stable.txt", INVOICE_WITH_BANK_DETAILS.encode()))
    with django_capture_on_commit_callbacks(execute=True):
        releases.set_channel(alice, acme, "documents", "beta")
    [on_beta] = extracted(("beta.txt", INVOICE_WITH_BANK_DETAILS.encode()))

    assert (on_stable.job.version, on_beta.job.version) == ("1.0.0", "1.1.0")
    assert "ibans" not in on_stable.fields
    assert on_beta.fields["ibans"] == [
        {"text": "DE89 3704 0044 0532 0130 00", "value": "DE89370400440532013000"}
    ]
    assert [item["value"] for item in on_beta.fields["vat_numbers"]] == ["DE123456789"]
    assert [item["value"] for item in on_beta.fields["due_dates"]] == ["2024-05-31"]
    assert on_beta.fields["invoice_numbers"] == on_stable.fields["invoice_numbers"]  # 1.0's fields kept
