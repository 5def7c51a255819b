"""POST /api/v1/c/qa/ask: the answer with its citations; 400 for an empty or
over-long question (naming the limit); 403 while Q&A is off; 404 for a
document the organization does not have; API keys by scope; the schema."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from capabilities.documents.models import Page
from metering.models import UsageEvent
from portal.actions.api_keys import create_api_key

ASK = "qa-api:ask"


@pytest.fixture
def api(client_for, alice):
    return client_for(alice)


def _billed(organization) -> int:
    return UsageEvent.objects.filter(organization=organization, capability="qa", meter="questions").count()


def test_the_answer_with_its_citations(library, api, acme):
    msa, _memo = library
    response = api.post(
        reverse(ASK), {"question": "Which law governs the agreement?"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"question", "mode", "answer", "citations", "closest", "note"}
    assert body["note"] == "" and body["closest"] == []
    assert body["question"] == "Which law governs the agreement?" and body["mode"] == "extractive"
    assert "State of New York" in body["answer"] and "[1]" in body["answer"]
    citation = body["citations"][0]
    assert set(citation) == {
        "document_id",
        "document_name",
        "page_number",
        "start",
        "end",
        "quote",
        "score",
        "url",
    }
    assert (citation["document_id"], citation["document_name"], citation["page_number"]) == (
        msa.pk,
        "msa.txt",
        1,
    )
    page = Page.objects.get(document=msa, number=1)
    assert page.text[citation["start"] : citation["end"]] == citation["quote"]
    assert citation["url"].startswith(f"/c/documents/{msa.pk}/pages/1/?start=")
    assert _billed(acme) == 1


def test_no_answer_is_null_and_not_billed(library, api, acme):
    response = api.post(
        reverse(ASK), {"question": "Who painted the Mona Lisa?"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["answer"] is None and response.json()["citations"] == []
    assert _billed(acme) == 0


def test_no_answer_says_why_when_a_check_refused_it(library, api, acme):
    response = api.post(
        reverse(ASK),
        {"question": "Where is the Chicago warehouse moving to?"},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["answer"] is None and body["citations"] == []
    assert body["note"] == "The passages that come closest never mention “Chicago”."
    assert _billed(acme) == 0
    # The sentence of each nearest passage that came closest, cited, for a person to judge.
    assert "The Boston warehouse moves to 12 Harbor Street on 14 April." in [
        closest["quote"] for closest in body["closest"]
    ]
    for closest in body["closest"]:
        page = Page.objects.get(document_id=closest["document_id"], number=closest["page_number"])
        assert page.text[closest["start"] : closest["end"]] == closest["quote"]


def test_chosen_documents(library, api):
    _msa, memo = library
    response = api.post(
        reverse(ASK),
        {"question": "Where is the warehouse moving?", "documents": [memo.pk]},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert {citation["document_id"] for citation in response.json()["citations"]} == {memo.pk}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": ""}, "Type a question"),
        ({"question": "  \t "}, "Type a question"),
        ({"question": "x" * 501}, "at most 500 characters long; this one has 501"),
    ],
)
def test_an_empty_or_too_long_question_is_400(library, api, acme, body, message):
    response = api.post(reverse(ASK), body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert response.json()["code"] in {"question_empty", "question_too_long"}
    assert _billed(acme) == 0


@pytest.mark.parametrize(
    "body", [{}, {"question": None}, {"question": 12}, {"question": "fee?", "documents": "all"}, []]
)
def test_a_malformed_body_is_400(library, api, body):
    response = api.post(reverse(ASK), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_switched_off_it_is_403(library, api, alice, acme, switch):
    switch(alice, acme, "qa", enabled=False)
    response = api.post(reverse(ASK), {"question": "fee?"}, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "capability_disabled"


def test_an_outsider_s_document_is_404(library, client_for, gina, globex, qa_on_globex):
    msa, _memo = library
    response = client_for(gina).post(
        reverse(ASK),
        {"question": "What is the monthly fee?", "documents": [msa.pk]},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert "msa.txt" not in response.content.decode()
    assert _billed(globex) == 0


def test_api_keys_ask_with_the_use_scope_not_read(library, alice, acme):
    _key, use = create_api_key(alice, acme, name="robot", scope="use")
    _key, read = create_api_key(alice, acme, name="reader", scope="read")
    body = {"question": "What is the monthly fee?"}
    allowed = Client().post(
        reverse(ASK), body, content_type="application/json", headers={"Authorization": f"Api-Key {use}"}
    )
    assert allowed.status_code == 200 and "USD 4,500" in allowed.json()["answer"]
    refused = Client().post(
        reverse(ASK), body, content_type="application/json", headers={"Authorization": f"Api-Key {read}"}
    )
    assert refused.status_code == 403


def test_billing_members_do_not_ask(library, client_for, carol):
    response = client_for(carol).post(reverse(ASK), {"question": "fee?"}, content_type="application/json")
    assert response.status_code == 403


def test_the_operation_is_in_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/c/qa/ask"]["post"]
    assert set(operation["responses"]) >= {"200", "400", "404"}
    answer = schema["components"]["schemas"]["Answer"]
    assert set(answer["properties"]) == {"question", "mode", "answer", "citations", "closest", "note"}
