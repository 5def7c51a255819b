"""Cutting pages into passages: whole sentences, overlapping, with offsets that
give back exactly the passage's text."""

from __future__ import annotations

import itertools

import pytest

from capabilities.qa import passages

CONTRACT = (
    "SERVICES AGREEMENT\n\n"
    "1. Term. This Agreement starts on 1 March 2026 and runs for two years. "
    "It renews automatically for one-year terms unless either party gives notice.\n"
    "2. Termination. Either party may terminate this Agreement with 90 days' written notice. "
    "Fees paid in advance are refunded pro rata, e.g. for unused months. "
    "The Supplier may end it at once if an invoice is unpaid for 60 days.\n"
    "3. Governing law. This Agreement is governed by the laws of the State of New York."
)


@pytest.fixture
def sizes(capability_settings):
    def set_sizes(chars: int, overlap: int) -> None:
        capability_settings("qa", PASSAGE_CHARS=chars, PASSAGE_OVERLAP=overlap)

    return set_sizes


def test_offsets_give_back_the_exact_text(sizes):
    sizes(160, 60)
    found = passages.split(CONTRACT, 3)
    assert len(found) > 2
    for passage in found:
        assert passage.text == CONTRACT[passage.start : passage.end]
        assert passage.page_number == 3
        assert passage.text == passage.text.strip()
    assert found[0].start == 0 and found[-1].end == len(CONTRACT)


def test_passages_are_whole_sentences_and_overlap_by_sentences(sizes):
    sizes(160, 100)
    found = passages.split(CONTRACT, 1)
    starts = {start for start, _end in passages.sentences(CONTRACT)}
    ends = {end for _start, end in passages.sentences(CONTRACT)}
    for passage in found:
        assert passage.start in starts and passage.end in ends
        assert passage.end - passage.start <= 160
    # Each passage after the first begins inside the previous one (the overlap)
    # and still moves on.
    for previous, following in itertools.pairwise(found):
        assert previous.start < following.start < previous.end < following.end
    covered = "".join(CONTRACT[p.start : p.end] for p in found)
    assert "90 days' written notice" in covered


def test_abbreviations_and_numbers_do_not_end_a_sentence():
    text = "Fees are refunded, e.g. for unused months. See clause No. 12 below.\n 3. Fees. Done."
    assert [text[start:end] for start, end in passages.sentences(text)] == [
        "Fees are refunded, e.g. for unused months.",
        "See clause No. 12 below.",
        "3. Fees.",
        "Done.",
    ]


def test_a_sentence_longer_than_a_passage_is_cut_at_spaces(sizes):
    sizes(50, 10)
    text = " ".join(["word"] * 60) + "."
    found = passages.split(text, 1)
    assert len(found) > 4
    for passage in found:
        assert passage.text == text[passage.start : passage.end]
        assert len(passage.text) <= 50
    assert found[-1].end == len(text)


def test_non_latin_text_keeps_exact_offsets(sizes):
    sizes(40, 15)
    text = (
        "本契約は2026年3月1日に発効する。いずれの当事者も90日前の書面通知により解約できる。"
        "準拠法は日本法とする。\n"
        "Договор действует два года. Уведомление за 90 дней."  # Cyrillic on purpose
    )
    found = passages.split(text, 2)
    assert len(found) >= 3
    for passage in found:
        assert passage.text == text[passage.start : passage.end]
    assert any(p.text.startswith("いずれの当事者も") for p in found)
    assert any("Уведомление" in p.text for p in found)


@pytest.mark.parametrize("text", ["", "   \n\n  \t"])
def test_a_page_without_text_has_no_passages(text):
    assert passages.split(text, 1) == []


def test_a_wrapped_line_does_not_end_a_sentence_a_heading_does():
    text = (
        "TERMINATION\n"
        "Either party may terminate this Agreement for convenience by giving ninety (90) days'\n"
        "written notice to the other party. The Supplier may suspend the services if an invoice\n"
        "Remains unpaid.\n"
        "Signed in Boston\nby both parties."
    )
    assert [text[start:end] for start, end in passages.sentences(text)] == [
        "TERMINATION",
        "Either party may terminate this Agreement for convenience by giving ninety (90) days'\n"
        "written notice to the other party.",
        "The Supplier may suspend the services if an invoice\nRemains unpaid.",
        "Signed in Boston\nby both parties.",
    ]
