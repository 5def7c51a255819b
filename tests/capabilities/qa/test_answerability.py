"""Answerability: a sentence close to the question is not an answer when its
document never names what the question names, lacks the kind of thing asked
for, or is about something else. Checked on its own and through answers."""

from __future__ import annotations

import pytest

from capabilities.qa import answerability, answers, embedding

LEASE = (
    "OFFICE LEASE. Landlord: Castlegate Property Holdings LLP. Tenant: Northgate Clinics Group plc. "
    "Premises: the third floor of Castlegate House, Leeds, with eight car parking spaces in the basement. "
    "The Tenant may end this lease on its fifth anniversary by giving not less than six months' notice. "
    "Invoice RIS-2024-0117 of 31 May 2024 is payable within forty-five (45) days."
)
NDA = (
    "MUTUAL NON-DISCLOSURE AGREEMENT. The parties are Northgate Clinics Group plc and Helix Genomics BV, "
    "each of which may disclose confidential information to the other."
)


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("How many parking spaces does the Manchester office have?", ["Manchester"]),
        ("What is the total of Radiant's invoice RIS-2024-0117?", ["Radiant", "RIS-2024-0117"]),
        ("what was invoiced in april 2024?", ["april", "2024"]),
        ("How many days may I work abroad?", []),  # "may" the verb, not the month
        ("What was invoiced in May?", ["May"]),
        ("Can I carry over unused holiday?", []),  # "Can" opens the question, "I" is no name
        ("What Is The Notice Period Of The Lease?", []),  # title case: capitals say nothing
    ],
)
def test_names_are_capitalised_words_past_the_first_figures_months_and_days(question, named):
    assert answerability.names(question) == named


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("How many parking spaces does the Leeds office have?", None),
        ("How many parking spaces does the Manchester office have?", ("Manchester",)),
        ("Who is Northgate's landlord?", None),  # the possessive aside
        ("When is invoice RIS-2024-0117 due?", None),
        ("When is invoice RIS-2024-0118 due?", ("RIS-2024-0118",)),
        ("Who signed the Castlegate lease in April?", ("April",)),
    ],
)
def test_a_name_the_question_gives_must_be_in_the_document(question, missing):
    found = answerability.gap(question, "eight car parking spaces in the basement", "lease.pdf", LEASE)
    if missing is None:
        assert found is None or found.kind != "name"
    else:
        assert found == answerability.Gap("name", missing)


def test_an_acronym_matches_the_words_it_abbreviates_and_the_file_name_counts():
    sentence = "between Northgate Clinics Group plc and Helix Genomics BV"
    assert answerability.gap("Who are the parties to the NDA?", sentence, "agreement.pdf", NDA) is None
    assert (
        answerability.gap(
            "Who are the parties to the Helix contract?",
            sentence,
            "helix-contract.pdf",
            "Signed by both parties.",
        )
        is None
    )
    found = answerability.gap("Who are the parties to the SLA?", sentence, "agreement.pdf", NDA)
    assert found == answerability.Gap("name", ("SLA",))


@pytest.mark.parametrize(
    ("question", "answer", "wanted"),
    [
        ("How many parking spaces come with the office?", "with eight car parking spaces", None),
        ("How many parking spaces come with the office?", "with car parking in the basement", "a number"),
        (
            "Within how many hours must a fault be fixed?",
            "payable within forty-five (45) days",
            "how many hours",
        ),
        ("How quickly must a breach be reported?", "within thirty-six (36) hours", None),
        ("How quickly must a breach be reported?", "without undue delay", None),
        ("How quickly must a breach be reported?", "between the parties named above", "when or how often"),
        ("How often are the windows cleaned?", "The outside windows are cleaned quarterly.", None),
        ("How much is the monthly fee?", "a monthly fee of USD 4,500", None),
        ("How much is the monthly fee?", "the fee is invoiced in advance", "a number or an amount"),
        (
            "What number do I call about a fault?",
            "two scanners and one computed tomography scanner",
            "a number",
        ),
        ("What number do I call about a fault?", "call the service desk on 0113 496 0000", None),
        ("On what date was the lease signed?", "The lease was signed by both parties.", "which day or date"),
        ("On what date was the lease signed?", "The lease was signed on 3 March 2021.", None),
        ("Which days do the cleaners come?", "The cleaners come Monday to Friday.", None),
        (
            "On what day of the month are salaries paid?",
            "Salaries are paid monthly in arrears.",
            "which day or date",
        ),
        ("On what day of the month are salaries paid?", "Salaries are paid on the last working day.", None),
        ("Who signed the agreement for Northgate?", "Lumen grants the Subscriber a licence.", "who signed"),
        ("Who signed the agreement for Northgate?", "Signed for Northgate by Daniel Okafor.", None),
        ("Who do we book the crane with?", "The crane is booked with the site manager.", None),
        (
            "Who approves travel expenses?",
            "Claims are authorised by your line manager.",
            None,
        ),  # near in meaning
        ("Who is the landlord?", "Landlord: Castlegate Property Holdings LLP.", None),
    ],
)
def test_the_answer_must_hold_the_kind_of_thing_asked_for(question, answer, wanted):
    found = answerability._kind_gap(question, answer)
    assert (found.wanted if found else None) == wanted


@pytest.mark.parametrize(
    ("words", "text", "unsupported"),
    [
        (["renewal"], "It renews automatically.", []),  # the same stem
        (["cab"], "Taxis are refunded after 22:00.", []),  # near in meaning
        (["vacation"], "Unused holidays may be carried over.", []),
        (["catering"], "The cleaning contractor cleans the offices nightly.", ["catering"]),
        (["dress", "code"], "Clinical staff work on site.", ["dress", "code"]),
    ],
)
def test_the_question_s_words_must_be_in_the_document_or_near_in_meaning(words, text, unsupported):
    assert answerability.unsupported(words, text) == unsupported


def test_a_long_document_is_searched_for_near_words_only_around_the_answer(monkeypatch):
    monkeypatch.setattr(answerability, "VOCABULARY_EMBEDDED", 8)
    long = "Taxis are refunded after ten at night. " + " ".join(f"clause{letter}" for letter in "abcdefghij")
    around = "Receipts are needed for every claim."
    # More distinct words than the bound: only the passages around the answer count.
    assert answerability.unsupported(["cab"], long, around) == ["cab"]
    assert answerability.unsupported(["cab"], long, "Taxis are refunded late at night.") == []
    # Stems are always looked for in the whole document.
    assert answerability.unsupported(["taxi"], long, around) == []
    # Under the bound, the whole document counts.
    monkeypatch.setattr(answerability, "VOCABULARY_EMBEDDED", 1_000)
    assert answerability.unsupported(["cab"], long, around) == []


def test_word_vectors_are_remembered_for_the_next_question(monkeypatch):
    monkeypatch.setattr(answerability, "word_vectors", embedding.VectorCache(100))
    assert answerability.unsupported(["cab"], "Taxis are refunded after 22:00.") == []
    assert {"cab", "taxis", "are", "refunded", "after"} <= set(answerability.word_vectors._vectors)


@pytest.mark.parametrize(
    ("question", "verb"),
    [
        ("Who approved purchase order PO-77120?", "approved"),
        ("Who do we book the crane with?", "book"),
        ("My laptop was stolen - who should I call?", "call"),
        ("Who is the landlord of the York clinic?", None),  # a name is asked for, not a deed
        ("Who do I tell?", None),  # a common verb says nothing
        ("How long do we keep the files of people who have left?", None),  # a relative clause
    ],
)
def test_a_who_question_asks_who_did_what_its_verb_says(question, verb):
    assert answerability.asked_verb(question) == verb


def test_common_words_and_names_are_not_the_question_s_terms():
    assert answerability.terms("How long do we keep camera footage?") == ["camera", "footage"]
    assert answerability.terms("Can Helix's staff get a badge?", ["Helix"]) == ["staff", "badge"]
    assert answerability.terms("Are Swiftline couriers background-checked?") == [
        "swiftline",
        "couriers",
        "background",
        "checked",
    ]


def test_each_gap_reads_as_a_sentence_for_people():
    assert answerability.Gap("name", ("Manchester",)).describe() == (
        "The passages that come closest never mention “Manchester”."
    )
    assert answerability.Gap("kind", wanted="a number").describe() == (
        "The passages that come closest do not say a number."
    )
    assert answerability.Gap("words", ("dress", "code")).describe() == (
        "The passages that come closest are not about “dress” or “code”."
    )


@pytest.mark.parametrize(
    ("question", "note"),
    [
        (
            "Where is the Chicago warehouse moving to?",
            "The passages that come closest never mention “Chicago”.",
        ),
        ("How many forklifts are booked?", "The passages that come closest do not say a number."),
        (
            "What is the notice period to terminate the catering agreement?",
            "The passages that come closest are not about “catering”.",
        ),
    ],
)
def test_a_near_miss_gets_no_answer_and_the_reason_though_its_score_would_answer(
    library, acme, settings, question, note
):
    result = answers.answer(acme, question)
    assert result.text is None and not result.citations
    assert result.note == note
    assert result.nearest
    settings.CAPABILITY_SETTINGS = {"qa": {"CHECK_ANSWERS": False}}
    assert answers.answer(acme, question).answered  # the score alone would have answered


def test_a_sentence_whose_document_fails_is_dropped_and_the_others_kept(library, acme):
    result = answers.answer(acme, "Where is the Boston warehouse moving to?")
    assert result.answered
    assert "12 Harbor Street" in result.text
    assert {citation.document_name for citation in result.citations} == {"memo.txt"}
    assert [citation.number for citation in result.citations] == list(range(1, len(result.citations) + 1))
