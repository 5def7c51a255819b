"""Ranked full-text search on PostgreSQL (the suite's database): ranking,
highlighted and escaped snippets, tenant scoping, and the searches meter."""

from __future__ import annotations

from capabilities.documents import actions, search
from metering.models import UsageEvent
from tests.capabilities.documents import samples


def test_ranked_hits_with_highlighted_snippets(extracted, acme):
    extracted(
        ("manual.pdf", samples.pdf("Intro page", "Turbine blades. The turbine turbines turbine rotor.")),
        ("memo.txt", b"A short memo that mentions a turbine once among many other words about lunch."),
    )
    hits = search.search(acme.pk, "turbine")
    assert [(hit.document_name, hit.page_number) for hit in hits] == [("manual.pdf", 2), ("memo.txt", 1)]
    assert hits[0].rank > hits[1].rank
    assert "<mark>Turbine</mark>" in hits[0].snippet
    assert "<mark>turbine</mark>" in hits[1].snippet


def test_stemming_and_websearch_syntax(extracted, acme):
    extracted(("a.txt", b"The inspectors inspected three turbines."), ("b.txt", b"Inspection of pumps."))
    # English stemming: inspectors, inspected, inspection all stem to "inspect".
    assert {hit.document_name for hit in search.search(acme.pk, "inspect")} == {"a.txt", "b.txt"}
    assert {hit.document_name for hit in search.search(acme.pk, "turbine")} == {"a.txt"}
    assert {hit.document_name for hit in search.search(acme.pk, "pump OR turbine")} == {"a.txt", "b.txt"}
    assert search.search(acme.pk, "pump turbine") == []  # every word is required
    assert search.search(acme.pk, 'pumps -"turbines"')[0].document_name == "b.txt"
    assert search.search(acme.pk, "   ") == []
    assert search.search(acme.pk, "nothing-like-this") == []


def test_snippets_escape_the_documents_text(extracted, acme):
    extracted(("x.txt", b"<script>alert('turbine')</script> turbine R&D costs <b>bold</b>"))
    [hit] = search.search(acme.pk, "turbine")
    assert "<script>" not in hit.snippet
    assert "<b>" not in hit.snippet
    assert "R&amp;D" in hit.snippet
    assert "<mark>turbine</mark>" in hit.snippet


def test_whole_page_highlight(extracted, acme):
    [document] = extracted(("x.txt", b"First turbine line.\nSecond line <i>without</i>.\nLast turbine."))
    page = document.pages.get()
    marked = search.highlight(page, "turbine")
    assert marked.count("<mark>turbine</mark>") == 2
    assert "&lt;i&gt;without&lt;/i&gt;" in marked
    assert "<mark>" not in search.highlight(page, "")


def test_search_sees_only_the_organizations_pages(extracted, acme, globex, gina, documents_on_globex):
    extracted(("acme.txt", b"acme turbine secrets"))
    extracted(("globex.txt", b"globex turbine plans"), organization=globex, actor=gina)
    assert [hit.document_name for hit in search.search(acme.pk, "turbine")] == ["acme.txt"]
    assert [hit.document_name for hit in search.search(globex.pk, "turbine")] == ["globex.txt"]


def test_each_search_is_one_usage_event(documents_on, acme, alice):
    first = actions.record_search(acme, alice, "turbine")
    second = actions.record_search(acme, alice, "turbine")
    assert first != second
    events = UsageEvent.objects.filter(organization=acme, capability="documents", meter="searches")
    assert sorted(events.values_list("idempotency_key", "quantity", "created_by_id")) == sorted(
        [(first, 1, alice.pk), (second, 1, alice.pk)]
    )
