"""Two organizations with identical documents: each one's questions retrieve
and cite only its own passages, whatever document ids are passed."""

from __future__ import annotations

import pytest

from capabilities.qa import actions, answers, retrieval
from capabilities.qa.models import Passage
from tests.capabilities.qa.conftest import SERVICES_AGREEMENT


@pytest.fixture
def twins(qa_on, qa_on_globex, uploaded, globex, gina):
    [ours] = uploaded(("msa.txt", SERVICES_AGREEMENT))
    [theirs] = uploaded(("msa.txt", SERVICES_AGREEMENT), organization=globex, actor=gina)
    return ours, theirs


@pytest.mark.parametrize("mode", retrieval.MODES)
def test_retrieval_sees_only_the_organization_s_passages(twins, acme, globex, mode):
    ours, theirs = twins
    question = "What is the notice period to terminate?"
    assert {hit.document_id for hit in retrieval.search(acme, question, mode=mode)} == {ours.pk}
    assert {hit.document_id for hit in retrieval.search(globex, question, mode=mode)} == {theirs.pk}
    # Naming the other organization's document finds nothing, never its passages.
    assert retrieval.search(acme, question, documents=[theirs.pk], mode=mode) == []


def test_answers_cite_only_the_organization_s_document(twins, acme, globex, alice, gina):
    ours, theirs = twins
    _stored, mine = actions.ask_question(alice, acme, "Which law governs the agreement?")
    _stored, yours = actions.ask_question(gina, globex, "Which law governs the agreement?")
    assert {citation.document_id for citation in mine.citations} == {ours.pk}
    assert {citation.document_id for citation in yours.citations} == {theirs.pk}
    assert all(hit.passage.organization_id == acme.pk for hit in mine.nearest)
    assert answers.answer(acme, "Which law governs the agreement?", documents=[theirs.pk]).text is None
    # With no answer, the sentences marked as closest are the organization's own too.
    _stored, refused = actions.ask_question(alice, acme, "Which law governs the Initech agreement?")
    assert refused.text is None and refused.closest
    assert {citation.document_id for citation in refused.closest} == {ours.pk}
    assert (
        Passage.objects.filter(organization=acme).count()
        == Passage.objects.filter(organization=globex).count()
    )
