"""The Document Q&A evaluation set is consistent: every gold span occurs, once
and exactly, on its page of the text the real extraction reads from the
rendered file, and the set has the size the benchmark promises."""

from __future__ import annotations

import pytest

from bench.qa_eval.corpus import (
    BLIND,
    FRESH,
    FRESH2,
    FRESH3,
    HELD_OUT,
    QUESTIONS,
    documents,
    extracted_pages,
    keywords,
    questions,
)


@pytest.fixture(scope="module")
def pages() -> dict[str, list[str]]:
    return {document.name: extracted_pages(document) for document in documents()}


def test_the_set_has_twelve_documents_of_every_format_some_with_several_pages(pages):
    kinds = {document.kind for document in documents()}
    assert len(pages) >= 12
    assert kinds == {"pdf", "docx", "txt"}
    assert sum(len(texts) > 1 for texts in pages.values()) >= 6


def test_forty_answerable_and_ten_unanswerable_questions():
    answerable = [question for question in questions() if question.document]
    unanswerable = [question for question in questions() if not question.document]
    assert len(answerable) >= 40
    assert len(unanswerable) >= 10
    assert all(question.page is None and question.span is None for question in unanswerable)
    assert len({question.id for question in questions()}) == len(questions())


def test_the_held_out_blind_and_fresh_sets_have_24_answerable_and_16_unanswerable_questions():
    for source in (HELD_OUT, BLIND, FRESH, FRESH2, FRESH3):
        answerable = [question for question in questions(source) if question.document]
        unanswerable = [question for question in questions(source) if not question.document]
        assert (len(answerable), len(unanswerable)) == (24, 16), source.name
        assert all(question.page is None and question.span is None for question in unanswerable)
    ids = [
        question.id
        for source in (QUESTIONS, HELD_OUT, BLIND, FRESH, FRESH2, FRESH3)
        for question in questions(source)
    ]
    assert len(set(ids)) == len(ids)
    texts = [
        question.question.casefold()
        for source in (QUESTIONS, HELD_OUT, BLIND, FRESH, FRESH2, FRESH3)
        for question in questions(source)
    ]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    "source", [QUESTIONS, HELD_OUT, BLIND, FRESH, FRESH2, FRESH3], ids=lambda source: source.stem
)
def test_every_gold_span_occurs_once_on_its_page(pages, source):
    for question in questions(source):
        if question.document is None:
            continue
        assert question.document in pages, question.id
        texts = pages[question.document]
        assert question.page is not None and 1 <= question.page <= len(texts), question.id
        assert question.span and texts[question.page - 1].count(question.span) == 1, question.id


@pytest.mark.parametrize("source", [QUESTIONS, FRESH, FRESH2, FRESH3], ids=lambda source: source.stem)
def test_a_paraphrased_question_shares_no_keyword_with_its_gold_span(source):
    # The held-out and blind sets' writers marked "paraphrased" more loosely.
    paraphrased = [question for question in questions(source) if question.paraphrased]
    assert len(paraphrased) >= 10
    for question in paraphrased:
        assert question.span is not None
        assert not keywords(question.question) & keywords(question.span), question.id
