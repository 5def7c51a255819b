"""Retrieval: full-text and vector search fused; scoped to the organization
and to chosen documents; a paraphrase found that full text alone misses."""

from __future__ import annotations

import pytest

from capabilities.qa import retrieval


def test_hybrid_finds_a_paraphrase_that_full_text_misses(library, acme):
    # No word of the question (after stemming and stop words) is in the
    # termination clause: "cancel", "deal", "heads-up", "ahead".
    question = "How long a heads-up before we can cancel the deal?"
    assert not any("terminate" in hit.text for hit in retrieval.search(acme, question, mode="fulltext"))
    hybrid = retrieval.search(acme, question, limit=3)
    assert any("ninety (90) days' written notice" in hit.text for hit in hybrid)


def test_hits_carry_document_page_offsets_and_a_score(library, acme):
    msa, _memo = library
    hits = retrieval.search(acme, "Which state's laws govern the agreement?", limit=2)
    assert any("State of New York" in hit.text for hit in hits)
    page = msa.pages.get(number=1)
    for hit in hits:
        assert hit.document_id == msa.pk and hit.document_name == "msa.txt" and hit.page_number == 1
        assert page.text[hit.start : hit.end] == hit.text
        assert hit.score > 0


@pytest.mark.parametrize("mode", retrieval.MODES)
def test_every_mode_keeps_to_the_chosen_documents(library, acme, mode):
    msa, _memo = library
    # The memo answers; the agreement only shares a word with the question.
    hits = retrieval.search(
        acme, "Where does the warehouse move after the agreement?", documents=[msa.pk], mode=mode
    )
    assert hits and {hit.document_id for hit in hits} == {msa.pk}


def test_an_unknown_mode_is_refused(library, acme):
    with pytest.raises(ValueError, match="mode must be one of"):
        retrieval.search(acme, "anything", mode="magic")


def test_a_question_without_words_finds_nothing_in_full_text(library, acme):
    assert retrieval.search(acme, "?!", mode="fulltext") == []


def _invoice(number: str, customer: str, total: str) -> str:
    return (
        f"Invoice {number} for {customer}. Services rendered in March: maintenance visits, spare parts and "
        f"call-out charges as agreed in the service schedule. Payment is due within thirty days of the date "
        f"of this invoice by bank transfer to the account shown below. Total due: GBP {total}. Questions "
        f"about this invoice go to the accounts team, who answer within two working days."
    )


def test_the_invoice_asked_about_by_number_comes_first(qa_on, uploaded, acme):
    # Five invoices worded alike: only their numbers and totals tell them apart.
    customers = ("Northwind", "Contoso", "Fabrikam", "Litware", "Tailspin")
    invoices = [
        _invoice(f"RX-{4400 + index * 37}", customer, f"{1000 + index * 250:,}.00")
        for index, customer in enumerate(customers)
    ]
    uploaded(*((f"invoice-{index}.txt", text) for index, text in enumerate(invoices)))
    question = "What is the total due on invoice RX-4511?"
    (best,) = retrieval.search(acme, question, limit=1)
    assert "RX-4511" in best.text and "GBP 1,750.00" in best.text
    assert 0 < best.score <= 1
