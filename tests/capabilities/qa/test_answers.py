"""Extractive answers: the sentences that answer, each cited with the exact
span of its page; below the threshold, no answer and the nearest passages."""

from __future__ import annotations

import pytest

from capabilities.documents.models import Page
from capabilities.qa import answers, embedding, retrieval
from capabilities.qa.models import Passage


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "What is the notice period to terminate the services agreement?",
            "ninety (90) days' written notice",
        ),
        ("Which law governs the agreement?", "laws of the State of New York"),
        ("Where is the warehouse moving to?", "12 Harbor Street"),
        ("How much is the monthly fee?", "USD 4,500"),
    ],
)
def test_the_answer_quotes_the_sentence_and_cites_its_exact_span(library, acme, question, expected):
    result = answers.answer(acme, question)
    assert result.mode == "extractive" and result.answered
    assert expected in result.text
    assert 1 <= len(result.citations) <= 3
    assert expected in result.citations[0].quote
    for citation in result.citations:
        page = Page.objects.get(document_id=citation.document_id, number=citation.page_number)
        assert page.text[citation.start : citation.end] == citation.quote
        assert citation.url == (
            f"/c/documents/{citation.document_id}/pages/{citation.page_number}/"
            f"?start={citation.start}&end={citation.end}#quote"
        )
        assert f"[{citation.number}]" in result.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who won the football world cup in 1998?",
        "What is the recipe for banana bread?",
    ],
)
def test_below_the_threshold_there_is_no_answer_only_the_nearest_passages(library, acme, question):
    result = answers.answer(acme, question)
    assert result.text is None and not result.citations
    assert result.nearest  # shown, so the person can judge
    # Nothing in them comes near enough to be marked as the closest sentence.
    assert result.closest == []


def test_with_no_answer_each_nearest_passage_marks_its_closest_sentence(library, acme):
    # The checks refuse it (the memo is about Boston), so the memo's sentence
    # that came closest is shown for the person to judge, marked, not claimed.
    result = answers.answer(acme, "Where is the Chicago warehouse moving to?")
    assert result.text is None and not result.citations and result.closest
    memo = [citation for citation in result.closest if citation.document_name == "memo.txt"]
    assert [citation.quote for citation in memo] == [
        "The Boston warehouse moves to 12 Harbor Street on 14 April."
    ]
    for citation in result.closest:
        page = Page.objects.get(document_id=citation.document_id, number=citation.page_number)
        assert page.text[citation.start : citation.end] == citation.quote
        hit = result.nearest[citation.number - 1]  # numbered by the passage's place
        assert (
            hit.document_id == citation.document_id and hit.start <= citation.start < citation.end <= hit.end
        )
    shown = result.nearest_passages
    assert [nearest.hit for nearest in shown] == result.nearest
    for nearest in shown:
        if nearest.closest is not None:
            before, marked, after = nearest.excerpt()
            assert marked == nearest.closest.quote
            assert (before + marked + after).strip("…") in nearest.hit.text


def test_an_answer_marks_no_closest_sentences(library, acme):
    result = answers.answer(acme, "How much is the monthly fee?")
    assert result.answered and result.closest == []


def test_the_excerpt_around_the_closest_sentence_is_cut_at_words():
    words = " ".join(f"word{n}" for n in range(200))
    text = f"{words} The closest sentence is here. {words}"
    begin = text.index("The closest")
    end = begin + len("The closest sentence is here.")
    passage = Passage(document_id=1, page_id=1, page_number=1, start=100, end=100 + len(text), text=text)
    hit = retrieval.Hit(passage=passage, document_name="long.txt", score=1.0)
    citation = answers.Citation(1, 1, "long.txt", 1, 100 + begin, 100 + end, text[begin:end], 0.3, "/x")
    before, marked, after = answers.NearestPassage(hit, citation).excerpt()
    assert marked == "The closest sentence is here."
    assert before.startswith("…word") and len(before) <= answers.EXCERPT_SIDE + 1
    assert after.endswith("…") and len(after) <= answers.EXCERPT_SIDE + 1
    assert before[1:] in text and after[:-1] in text
    # Without a closest sentence, the passage's beginning.
    assert answers.NearestPassage(hit, None).excerpt()[2].startswith("word0 word1")


def test_with_nothing_indexed_there_is_no_answer(qa_on, acme):
    result = answers.answer(acme, "What is the notice period?")
    assert (result.text, result.citations, result.nearest) == (None, [], [])


def _sentence(text: str, document_name: str) -> answers._Sentence:
    hit = retrieval.Hit(Passage(), document_name, 1.0)
    return answers._Sentence(hit, 0, len(text), text)


def test_a_sentence_that_reads_like_its_document_s_title_counts_less(monkeypatch):
    """A heading or the parties' preamble says which document the question
    is about; the clause says what it asks."""
    name = "imaging-vendor-agreement.pdf"
    heading = _sentence("IMAGING EQUIPMENT SUPPLY AND SERVICE AGREEMENT", name)
    preamble = _sentence(
        "This Imaging Equipment Supply and Service Agreement is made on 1 February 2024 between "
        "Radiant Imaging Systems Ltd and Northgate Clinics Group plc.",
        name,
    )
    clause = _sentence(
        "The Customer may also terminate for convenience on one hundred and eighty (180) days' "
        "written notice, subject to paying the Vendor's reasonable costs.",
        name,
    )
    question = "What's the termination clause for the imaging vendor?"
    scores = answers.score_sentences(question, [heading, preamble, clause])
    assert scores.argmax() == 2
    monkeypatch.setattr(answers, "TITLE_WEIGHT", 0.0)
    assert answers.score_sentences(question, [heading, preamble, clause]).argmax() == 0


def test_a_document_s_title_is_its_file_name_in_words():
    assert answers.title_of("imaging-vendor-agreement.pdf") == "imaging vendor agreement"
    assert answers.title_of("Staff_Leave handbook.v2.docx") == "Staff Leave handbook v2"
    assert answers.title_of(".pdf") == "pdf"  # a dot file: its whole name


def test_asking_again_embeds_nothing_and_answers_the_same(library, acme, monkeypatch):
    monkeypatch.setattr(answers, "sentence_vectors", embedding.VectorCache(1_000))
    monkeypatch.setattr(retrieval, "question_vectors", embedding.VectorCache(100))
    embedded = []
    embed = embedding.embed

    def counted(texts):
        embedded.extend(texts)
        return embed(texts)

    monkeypatch.setattr(embedding, "embed", counted)
    question = "What is the notice period to terminate the services agreement?"
    first = answers.answer(acme, question)
    assert question in embedded and len(embedded) > 5  # the question, the passages' sentences, titles
    embedded.clear()
    again = answers.answer(acme, question)
    assert embedded == []
    assert again == first
