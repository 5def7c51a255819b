"""The tracker's flow in this process: an upload's extraction starts the
analysis, switching the tracker on analyses the existing documents, each
contract is billed once; corrections win over re-analysis and are audited;
two organizations with identical documents never see each other's contracts."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from capabilities.actions import set_capability_enabled, start_job
from capabilities.contracts import actions, queries
from capabilities.contracts.models import Contract, ContractCorrection
from capabilities.documents import actions as documents_actions
from capabilities.models import Job
from metering.models import UsageEvent
from portal.actions.errors import ActionError
from portal.models import AuditEntry
from tests.capabilities.contracts.conftest import eval_file
from tests.capabilities.documents import samples

pytestmark = pytest.mark.django_db


def billed(organization, meter="contracts") -> int:
    return sum(
        UsageEvent.objects.filter(organization=organization, capability="contracts", meter=meter).values_list(
            "quantity", flat=True
        )
    )


def test_an_uploaded_contract_is_analysed_after_its_extraction_and_billed_once(
    contracts_on, upload, run_queued
):
    [contract] = upload(eval_file("01-imaging-services.txt"))
    assert contract.is_contract
    assert contract.notice_deadline == date(2025, 12, 30)
    assert contract.parties == ["Acme Health Ltd", "Northwind Imaging Inc"]
    assert contract.computed == ["expiry_date", "notice_deadline"]
    [cited] = contract.citations["notice_period_days"]
    page = contract.document.pages.get(number=cited["page"])
    assert (
        page.text[cited["start"] : cited["end"]]
        == cited["quote"]
        == "at least sixty (60) days' written notice"
    )
    assert (
        Job.objects.filter(capability="contracts", kind="analyse", source=Job.Source.AUTOMATIC).count() == 1
    )
    assert billed(contracts_on) == 1


def test_a_non_contract_is_analysed_unbilled_and_not_listed(contracts_on, upload):
    [invoice] = upload(eval_file("11-invoice.txt"))
    assert not invoice.is_contract and invoice.notice_deadline is None
    assert billed(contracts_on) == 0
    assert list(queries.contracts(contracts_on)) == []


def test_pdf_and_word_contracts_are_read_through_the_real_extraction(contracts_on, upload):
    text = (
        "SERVICE AGREEMENT\n\nThis Agreement is made on 1 April 2025 between Alpha Ltd and Beta LLC.\n"
        "The initial term of this Agreement is twelve (12) months. This Agreement shall automatically "
        "renew for successive one-year periods unless either party gives at least thirty (30) days' "
        "written notice.\nThis Agreement is governed by the laws of the State of Texas.\n"
        "Signed by both parties."
    )
    pdf_contract, word_contract = upload(("a.pdf", samples.pdf(text)), ("b.docx", samples.docx_file(text)))
    for contract in (pdf_contract, word_contract):
        assert contract.is_contract, contract.document.name
        assert (contract.effective_date, contract.term_months, contract.expiry_date) == (
            date(2025, 4, 1),
            12,
            date(2026, 3, 31),
        )
        assert (contract.auto_renews, contract.notice_period_days) == (True, 30)
        assert contract.notice_deadline == date(2026, 3, 1)
        assert contract.governing_law == "Texas"


def test_a_failed_extraction_starts_no_analysis(contracts_on, alice, run_queued):
    documents_actions.upload_documents(alice, contracts_on, [SimpleUploadedFile("blank.txt", b"   \n  ")])
    assert run_queued() == ["documents.extract:failed"]
    assert not Contract.objects.exists()


def test_no_analysis_while_the_tracker_is_off(alice, acme, run_queued):
    set_capability_enabled(alice, acme, "documents", enabled=True)
    documents_actions.upload_documents(
        alice, acme, [SimpleUploadedFile(*eval_file("01-imaging-services.txt"))]
    )
    assert run_queued() == ["documents.extract:succeeded"]
    assert not Contract.objects.exists()


def test_switching_the_tracker_on_analyses_existing_documents(
    alice, acme, run_queued, django_capture_on_commit_callbacks
):
    set_capability_enabled(alice, acme, "documents", enabled=True)
    documents_actions.upload_documents(
        alice,
        acme,
        [
            SimpleUploadedFile(*eval_file(name))
            for name in ("01-imaging-services.txt", "02-saas-subscription.txt", "11-invoice.txt")
        ],
    )
    run_queued()
    with django_capture_on_commit_callbacks(execute=True):
        set_capability_enabled(alice, acme, "contracts", enabled=True)
    job = Job.objects.get(capability="contracts", kind="analyse_all")
    assert job.source == Job.Source.AUTOMATIC
    assert run_queued() == ["contracts.analyse_all:succeeded"]
    job.refresh_from_db()
    assert job.result == {"documents": 3, "contracts": 2}
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert billed(acme) == 2
    # Nothing left to analyse: switching on again reads nothing twice.
    start_job(alice, acme, "contracts", kind="analyse_all")
    run_queued()
    assert Job.objects.filter(kind="analyse_all").order_by("-pk").first().result == {
        "documents": 0,
        "contracts": 0,
    }
    assert billed(acme) == 2


def test_a_document_read_while_the_tracker_is_switched_on_is_billed_once(
    alice, acme, run_queued, django_capture_on_commit_callbacks
):
    """The switch-on's analysis of every document and the automatic analysis of
    the new extraction both reach the document: the first stores and bills,
    the other finds its analysis of the same text and bills nothing."""
    set_capability_enabled(alice, acme, "documents", enabled=True)
    [document] = documents_actions.upload_documents(
        alice, acme, [SimpleUploadedFile(*eval_file("02-saas-subscription.txt"))]
    ).documents
    with django_capture_on_commit_callbacks(execute=True):
        set_capability_enabled(alice, acme, "contracts", enabled=True)
    # The extraction finishes first and starts the automatic analysis; the
    # switch-on's job, queued earlier, then finds the document extracted.
    assert run_queued() == [
        "documents.extract:succeeded",
        "contracts.analyse_all:succeeded",
        "contracts.analyse:succeeded",
    ]
    every = Job.objects.get(capability="contracts", kind="analyse_all")
    one = Job.objects.get(capability="contracts", kind="analyse")
    assert every.result == {"documents": 1, "contracts": 1}
    assert one.result == {"document_id": document.pk, "is_contract": True, "unchanged_since_job": every.pk}
    assert Contract.objects.get(document=document).analysed_by_id == every.pk
    assert billed(acme) == 1


def test_a_correction_wins_over_re_analysis_and_is_audited(contracts_on, upload, alice, run_queued):
    [contract] = upload(eval_file("01-imaging-services.txt"))
    correction = actions.correct_contract(
        alice, contract, "notice_period_days", "90", note="Side letter of May 2025"
    )
    contract.refresh_from_db()
    assert contract.notice_period_days == 90
    assert contract.notice_deadline == date(2025, 11, 30)  # follows the corrected notice
    assert contract.corrected == ["notice_period_days"] and "notice_period_days" not in contract.citations
    assert (correction.old_value, correction.new_value, correction.corrected_by) == (60, 90, alice)
    entry = AuditEntry.objects.get(action="contracts.corrected")
    assert entry.details["field"] == "notice_period_days" and entry.details["new"] == 90
    assert entry.organization == contracts_on

    start_job(
        alice, contracts_on, "contracts", kind="analyse", job_input={"document_id": contract.document_id}
    )
    assert run_queued() == ["contracts.analyse:succeeded"]
    contract.refresh_from_db()
    assert contract.notice_period_days == 90 and contract.notice_deadline == date(2025, 11, 30)
    assert contract.effective_date == date(2025, 3, 1)  # the others are read again
    assert billed(contracts_on) == 2  # asked for by a person: read again and billed


def test_marking_a_value_unknown_and_correcting_a_date(contracts_on, upload, alice):
    [contract] = upload(eval_file("01-imaging-services.txt"))
    actions.correct_contract(alice, contract, "expiry_date", "31 March 2026")
    contract.refresh_from_db()
    assert contract.expiry_date == date(2026, 3, 31) and contract.notice_deadline == date(2026, 1, 30)
    actions.correct_contract(alice, contract, "governing_law", "")
    contract.refresh_from_db()
    assert contract.governing_law is None
    assert ContractCorrection.objects.filter(contract=contract).count() == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("notice_period_days", "sixty", "whole number from 0 to 3650"),
        ("notice_period_days", "-5", "whole number"),
        ("expiry_date", "next spring", "is not a date"),
        ("auto_renews", "perhaps", "answer yes or no"),
        ("colour", "red", "is not a field of a contract"),
        ("parties", ["x" * 501], "at most 500 characters"),
        ("is_contract", "", "Say yes or no"),
    ],
)
def test_a_correction_that_cannot_be_the_fields_is_refused_with_the_reason(
    contracts_on, upload, alice, field, value, message
):
    [contract] = upload(eval_file("01-imaging-services.txt"))
    with pytest.raises(ActionError, match=message):
        actions.correct_contract(alice, contract, field, value)
    assert not ContractCorrection.objects.exists()
    assert not AuditEntry.objects.filter(action="contracts.corrected").exists()


def test_two_organizations_with_identical_documents_see_only_their_own(
    contracts_on, contracts_on_globex, upload, gina, alice
):
    [ours] = upload(eval_file("01-imaging-services.txt"))
    [theirs] = upload(eval_file("01-imaging-services.txt"), organization=contracts_on_globex, actor=gina)
    assert ours.pk != theirs.pk and ours.organization_id != theirs.organization_id
    actions.correct_contract(gina, theirs, "governing_law", "Delaware")
    assert list(queries.contracts(contracts_on)) == [ours]
    assert list(queries.contracts(contracts_on_globex)) == [theirs]
    ours.refresh_from_db()
    assert ours.governing_law == "England and Wales"
