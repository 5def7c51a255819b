"""The Q&A page: the question box, the answer through htmx with citations
linking to the highlighted span, no answer with the nearest passages, the
empty state, the indexing state, and the outsider."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from capabilities.qa.models import Question
from tests.capabilities.qa.conftest import SERVICES_AGREEMENT, WAREHOUSE_MEMO


@pytest.fixture
def library(qa_on, uploaded):
    return uploaded(("msa.txt", SERVICES_AGREEMENT), ("memo.txt", WAREHOUSE_MEMO))


def ask_htmx(client, question: str):
    """Ask from the page's question box, as htmx sends it."""
    return client.post(reverse("qa:ask"), {"question": question}, headers={"HX-Request": "true"})


def test_the_answer_comes_back_with_citations_that_highlight_the_span(library, client_for, alice):
    client = client_for(alice)
    response = ask_htmx(client, "What is the notice period to terminate?")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="answer"' in body
    assert "ninety (90) days&#x27; written notice" in body
    links = re.findall(r'href="(/c/documents/\d+/pages/1/\?start=\d+&amp;end=\d+#quote)"', body)
    assert links
    page = client.get(links[0].replace("&amp;", "&"))
    assert page.status_code == 200
    marked = re.search(r'<mark id="quote" class="quote">(.*?)</mark>', page.content.decode(), re.S)
    assert marked and "written notice" in marked.group(1)


def test_the_htmx_answer_also_refreshes_the_recent_questions(library, client_for, alice):
    body = ask_htmx(client_for(alice), "What is the notice period to terminate?").content.decode()
    recent = re.search(
        r'<section class="card" id="recent-questions" hx-swap-oob="true">(.*?)</section>', body, re.S
    )
    assert recent, "the recent questions come out of band with the answer"
    assert "What is the notice period to terminate?" in recent.group(1)


def test_no_answer_shows_the_nearest_passages(library, client_for, alice):
    response = client_for(alice).post(reverse("qa:ask"), {"question": "What is the capital of France?"})
    body = response.content.decode()
    assert "No answer found in your documents" in body
    assert "nothing was billed" in body
    assert "/c/documents/" in body  # the nearest passages, linked


def test_no_answer_marks_the_closest_sentence_of_each_passage(library, client_for, alice):
    body = ask_htmx(client_for(alice), "Where is the Chicago warehouse moving to?").content.decode()
    assert "No answer found in your documents" in body
    assert "The sentences that came closest to answering are marked." in body
    assert (
        '<mark class="qa-closest">The Boston warehouse moves to 12 Harbor Street on 14 April.</mark>' in body
    )
    # Its link opens the page with that sentence highlighted.
    link = re.search(
        r'<a href="(/c/documents/\d+/pages/1/\?start=(\d+)&amp;end=(\d+)#quote)">memo\.txt', body
    )
    assert link is not None
    start, end = int(link.group(2)), int(link.group(3))
    assert WAREHOUSE_MEMO.strip()[start:end] == "The Boston warehouse moves to 12 Harbor Street on 14 April."


def test_a_bad_question_is_a_form_error(library, client_for, alice, capability_settings):
    capability_settings("qa", MAX_QUESTION_CHARS=20)
    client = client_for(alice)
    assert "Type a question" in client.post(reverse("qa:ask"), {"question": " "}).content.decode()
    response = client.post(reverse("qa:ask"), {"question": "x" * 21}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "at most 20 characters" in response.content.decode()
    assert not Question.objects.exists()


def test_the_page_lists_recent_questions_and_the_index(library, client_for, alice, bob):
    client_for(bob).post(reverse("qa:ask"), {"question": "What is the monthly fee?"})
    body = client_for(alice).get(reverse("qa:index")).content.decode()
    assert "What is the monthly fee?" in body and "bob@acme.test" in body
    assert "Indexed for questions" in body
    assert "Each answered question costs $0.02" in body
    assert "not billed" in body


def test_the_empty_state_sends_people_to_upload(qa_on, client_for, alice):
    body = client_for(alice).get(reverse("qa:index")).content.decode()
    assert "Nothing to ask yet" in body and reverse("documents:index") in body


def test_billing_members_read_but_do_not_ask(library, client_for, carol):
    client = client_for(carol)
    assert "owners, admins and members ask" in client.get(reverse("qa:index")).content.decode()
    assert client.post(reverse("qa:ask"), {"question": "What is the monthly fee?"}).status_code == 403


def test_switched_off_the_pages_answer_403(library, client_for, alice, acme, switch):
    switch(alice, acme, "qa", enabled=False)
    assert client_for(alice).get(reverse("qa:index")).status_code == 403


def test_asking_about_a_foreign_document_is_refused(library, client_for, gina, qa_on_globex):
    msa, _memo = library
    response = client_for(gina).post(reverse("qa:ask"), {"question": "fee?", "documents": [msa.pk]})
    assert response.status_code == 400
    assert "msa.txt" not in response.content.decode()
    assert not Question.objects.exists()


def test_the_page_s_queries_do_not_grow_with_questions(
    library, client_for, alice, acme, django_assert_max_num_queries
):
    client = client_for(alice)
    Question.objects.create(organization=acme, asked_by=alice, question="First?", answer=None)
    client.get(reverse("qa:index"))  # warm the per-process caches (toggles, prices)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("qa:index"))
    for number in range(12):
        Question.objects.create(
            organization=acme, asked_by=alice, question=f"Question {number}?", answer="A [1]"
        )
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(reverse("qa:index")).status_code == 200


def test_the_index_state_is_a_fragment_for_htmx_and_the_whole_page_otherwise(library, client_for, alice):
    client = client_for(alice)
    fragment = client.get(reverse("qa:status"), headers={"HX-Request": "true"}).content.decode()
    page = client.get(reverse("qa:status")).content.decode()
    assert "Indexed for questions" in fragment and "<html" not in fragment
    assert "Indexed for questions" in page and "<html" in page and "Ask your documents" in page
