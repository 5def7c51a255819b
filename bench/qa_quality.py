"""Quality of Document Q&A on its evaluation set (bench/qa_eval/): the set is
uploaded for an organization of its own, extracted and indexed through the
portal's jobs on a real worker, then every question is asked.

- Retrieval recall@5: the share of answerable questions for which one of the
  top five passages is on the gold page and holds at least half of the gold
  span, for hybrid retrieval against PostgreSQL full-text search alone (and
  vector search alone, for the record).
- Answers: the share of answerable questions whose answer contains the gold
  span (whitespace and case aside), and the share of unanswerable questions
  answered "no answer". Full-text search alone, answering with its best
  passage and "no answer" only when it finds nothing, is the comparison.
  Answers are measured with answerability's checks (the default) and without
  them (`score_only`), on the set and on three sets of questions written by
  helpers who never saw the checks: `held_out`, looked at while designing
  them; `blind`, first run once their design was fixed, then looked at when
  the "what date" and "who did" checks and the title's weight were added;
  `fresh`, first run once those were fixed; `fresh2`, written later
  by a helper who saw neither the answering code nor any result and first
  run on the unchanged code; and `fresh3`, written the same way and kept
  unrun until the twelfth session, which ran it once on the unchanged code
  (no design change was coming: what it misses needs a reading model). The
  no-answer target is checked on the set and on the newest set (`fresh3`).
Targets: recall@5 >= 0.9 and at least 15 points above full-text alone;
no-answer precision >= 0.9."""

from __future__ import annotations

import re
from typing import Any

TOP = 5
MODES = ("hybrid", "fulltext", "vector")


def _normal(text: str) -> str:
    """Text as compared: citation markers ("[2]") out, whitespace and case aside."""
    return re.sub(r"\s+", " ", re.sub(r"\s*\[\d+\]", "", text)).strip().casefold()


def _covers(start: int, end: int, gold_start: int, gold_end: int) -> bool:
    """The passage [start, end) holds at least half of the gold span."""
    overlap = min(end, gold_end) - max(start, gold_start)
    return overlap * 2 >= gold_end - gold_start


def _gold_offsets(organization, questions) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """Each answerable question's (document id, start, end) in the stored page."""
    from capabilities.documents.models import Page

    pages = {
        (page.document.name, page.number): page
        for page in Page.objects.filter(document__organization=organization).select_related("document")
    }
    offsets = {}
    for question in questions:
        if question.document is None:
            continue
        page = pages[(question.document, question.page)]
        start = page.text.find(question.span)
        if start < 0:
            raise RuntimeError(f"{question.id}: the gold span is not on its page as stored")
        offsets[question.id] = (page.document_id, start, start + len(question.span))
    return offsets


def _found(hits, question, gold) -> bool:  # type: ignore[no-untyped-def]
    document_id, start, end = gold
    return any(
        hit.document_id == document_id
        and hit.page_number == question.page
        and _covers(hit.start, hit.end, start, end)
        for hit in hits
    )


def _trade_off(confidence: dict[str, list[float]]) -> list[dict[str, float]]:
    """For QA_MIN_SCORE from 0.30 to 0.70: the share of unanswerable
    questions answered "no answer" and the share of answerable ones answered."""
    answerable, unanswerable = confidence["answerable"], confidence["unanswerable"]
    points = []
    for step in range(30, 71, 5):
        threshold = step / 100
        refused = sum(score < threshold for score in unanswerable)
        answered = sum(score >= threshold for score in answerable)
        points.append(
            {
                "min_score": threshold,
                "no_answer_precision": _share(refused, len(unanswerable)),
                "answerable_answered": _share(answered, len(answerable)),
            }
        )
    return points


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _answering(organization, answerable, unanswerable, gold) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Every question asked: the share of answerable ones whose answer holds
    (and cites) the gold span, the share of unanswerable ones answered "no
    answer", and which questions went wrong."""
    from capabilities.qa import answers

    contains = cited = 0
    confidence: dict[str, list[float]] = {"answerable": [], "unanswerable": []}
    wrong_no_answer: list[str] = []
    not_containing: list[str] = []
    marked = 0
    for question in answerable:
        answer = answers.answer(organization, question.question)
        confidence["answerable"].append(answer.confidence)
        if answer.text is None:
            wrong_no_answer.append(question.id)
            not_containing.append(question.id)
            span = _normal(question.span or "")
            marked += any(span in _normal(closest.quote) for closest in answer.closest)
            continue
        if _normal(question.span or "") in _normal(answer.text):
            contains += 1
        else:
            not_containing.append(question.id)
        document_id, start, end = gold[question.id]
        cited += any(
            citation.document_id == document_id
            and citation.page_number == question.page
            and citation.start < end
            and citation.end > start
            for citation in answer.citations
        )
    said_no_answer = []
    made_up = []
    for question in unanswerable:
        answer = answers.answer(organization, question.question)
        confidence["unanswerable"].append(answer.confidence)
        (said_no_answer if answer.text is None else made_up).append(question.id)
    return {
        "answerable_questions": len(answerable),
        "unanswerable_questions": len(unanswerable),
        "no_answer_precision": _share(len(said_no_answer), len(unanswerable)),
        "answer_contains_gold_span": _share(contains, len(answerable)),
        "answer_cites_gold_span": _share(cited, len(answerable)),
        "answerable_answered": _share(len(answerable) - len(wrong_no_answer), len(answerable)),
        "answer_not_containing_gold_span": not_containing,
        "answerable_answered_no_answer": wrong_no_answer,
        # Of those, how many showed the gold span as a nearest passage's
        # closest sentence (marked on the page, `closest` in the API).
        "no_answer_gold_marked": marked,
        "unanswerable_answered": made_up,
        "confidence": confidence,
    }


def run() -> dict[str, Any]:
    from django.test import override_settings

    from bench.harness import write_result
    from bench.qa_eval import corpus
    from bench.qa_eval.loading import QUEUES, fresh_organization, upload, wait_until_indexed
    from capabilities.capability_settings import capability_setting
    from capabilities.qa import retrieval
    from tests.workers import celery_worker

    organization, owner = fresh_organization("bench-qa-quality")
    files = [(document.name, document.content) for document in corpus.documents()]
    with celery_worker(queues=QUEUES, env={"DATABASE_POOL": "true"}):
        upload(owner, organization, files)
        wait_until_indexed(organization, len(files))

    questions = corpus.questions()
    answerable = [question for question in questions if question.document]
    unanswerable = [question for question in questions if not question.document]
    gold = _gold_offsets(organization, answerable)

    recall = {}
    page_recall = {}
    missed: dict[str, list[str]] = {}
    for mode in MODES:
        found = on_page = 0
        missed[mode] = []
        for question in answerable:
            hits = retrieval.search(organization, question.question, limit=TOP, mode=mode)
            if _found(hits, question, gold[question.id]):
                found += 1
            else:
                missed[mode].append(question.id)
            on_page += any(
                hit.document_id == gold[question.id][0] and hit.page_number == question.page for hit in hits
            )
        recall[mode] = _share(found, len(answerable))
        page_recall[mode] = _share(on_page, len(answerable))
    paraphrased = [question for question in answerable if question.paraphrased]
    paraphrased_recall = {
        mode: _share(len([q for q in paraphrased if q.id not in missed[mode]]), len(paraphrased))
        for mode in MODES
    }

    # Answers, ours: the extractive answer must contain the gold span; with
    # answerability's checks (the default) and without them, on the tuning
    # set and on the two sets written by someone who never saw the checks.
    answering = {"checked": _answering(organization, answerable, unanswerable, gold)}
    with override_settings(CAPABILITY_SETTINGS={"qa": {"CHECK_ANSWERS": False}}):
        answering["score_only"] = _answering(organization, answerable, unanswerable, gold)
    other_sets = {}
    for name, source in (
        ("held_out", corpus.HELD_OUT),
        ("blind", corpus.BLIND),
        ("fresh", corpus.FRESH),
        ("fresh2", corpus.FRESH2),
        ("fresh3", corpus.FRESH3),
    ):
        extra = corpus.questions(source)
        extra_answerable = [question for question in extra if question.document]
        extra_unanswerable = [question for question in extra if not question.document]
        extra_gold = _gold_offsets(organization, extra_answerable)
        other_sets[name] = {
            "checked": _answering(organization, extra_answerable, extra_unanswerable, extra_gold)
        }
        with override_settings(CAPABILITY_SETTINGS={"qa": {"CHECK_ANSWERS": False}}):
            other_sets[name]["score_only"] = _answering(
                organization, extra_answerable, extra_unanswerable, extra_gold
            )
    ours = answering["checked"]
    confidence = ours.pop("confidence")
    answering["score_only"].pop("confidence")
    for results in other_sets.values():
        for result in results.values():
            result.pop("confidence")

    # Full-text alone as the answerer: its best passage, or "no answer" when
    # it finds nothing.
    fulltext_contains = 0
    fulltext_no_answer = 0
    for question in answerable:
        hits = retrieval.search(organization, question.question, limit=1, mode="fulltext")
        if hits and _normal(question.span or "") in _normal(hits[0].text):
            fulltext_contains += 1
    for question in unanswerable:
        fulltext_no_answer += not retrieval.search(organization, question.question, limit=1, mode="fulltext")

    no_answer_precision = ours["no_answer_precision"]
    return write_result(
        "qa_quality",
        metric="retrieval recall@5 on the Q&A evaluation set (gold span in one of the top 5 passages)",
        unit="share of answerable questions",
        ours=recall["hybrid"],
        baseline=recall["fulltext"],
        baseline_name="PostgreSQL full-text search alone (retrieval mode=fulltext) on the same passages",
        higher_is_better=True,
        target="recall@5 >= 0.9 and >= 0.15 above full-text alone; no-answer precision >= 0.9",
        runs=1,
        documents=len(files),
        pages=sum(len(corpus.extracted_pages(document)) for document in corpus.documents()),
        answerable_questions=len(answerable),
        paraphrased_questions=len(paraphrased),
        unanswerable_questions=len(unanswerable),
        recall_at_5={mode: recall[mode] for mode in MODES},
        recall_at_5_paraphrased=paraphrased_recall,
        page_recall_at_5=page_recall,
        missed_at_5=missed,
        answer_contains_gold_span=ours["answer_contains_gold_span"],
        answer_cites_gold_span=ours["answer_cites_gold_span"],
        answer_not_containing_gold_span=ours["answer_not_containing_gold_span"],
        answerable_answered_no_answer=ours["answerable_answered_no_answer"],
        no_answer_gold_marked=ours["no_answer_gold_marked"],
        no_answer_precision=no_answer_precision,
        unanswerable_answered=ours["unanswerable_answered"],
        min_score=capability_setting("qa", "MIN_SCORE"),
        min_score_trade_off=_trade_off(confidence),
        score_only=answering["score_only"],
        held_out=other_sets["held_out"],
        blind=other_sets["blind"],
        fresh=other_sets["fresh"],
        fresh2=other_sets["fresh2"],
        fresh3=other_sets["fresh3"],
        fulltext_top_passage_contains_gold_span=_share(fulltext_contains, len(answerable)),
        fulltext_no_answer_precision=_share(fulltext_no_answer, len(unanswerable)),
        # The no-answer target on the tuning set and on the newest set nobody
        # designed against (the checks were designed looking at the others).
        meets_target=(
            recall["hybrid"] >= 0.9
            and recall["hybrid"] - recall["fulltext"] >= 0.15
            and no_answer_precision >= 0.9
            and other_sets["fresh3"]["checked"]["no_answer_precision"] >= 0.9
        ),
    )
