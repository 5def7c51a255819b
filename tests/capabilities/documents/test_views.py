"""The Documents pages: list and upload, a document with its fields, one page
with the search words marked, the search page; outsiders get 404."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from capabilities.documents.models import Document
from capabilities.runner import _run
from metering.models import UsageEvent
from tests.capabilities.documents import samples


@pytest.fixture
def alice_client(client_for, alice, documents_on):
    return client_for(alice)


def test_upload_many_files_from_the_form(alice_client, acme):
    response = alice_client.post(
        reverse("documents:upload"),
        {
            "files": [
                SimpleUploadedFile("a.pdf", samples.pdf("Alpha turbine")),
                SimpleUploadedFile("b.docx", samples.docx_file("Beta")),
                SimpleUploadedFile("c.exe", b"MZ\x90binary"),
            ]
        },
        follow=True,
    )
    body = response.content.decode()
    assert "2 documents are uploaded; their text is being read." in body
    assert "c.exe was not uploaded: This type of file is not supported." in body
    assert sorted(Document.objects.filter(organization=acme).values_list("name", flat=True)) == [
        "a.pdf",
        "b.docx",
    ]
    assert "a.pdf" in body and "b.docx" in body  # listed on the index


def test_an_empty_file_in_the_form_is_named_and_the_good_ones_stored(alice_client, acme):
    response = alice_client.post(
        reverse("documents:upload"),
        {
            "files": [
                SimpleUploadedFile("a.txt", b"alpha"),
                SimpleUploadedFile("blank.pdf", b""),
                SimpleUploadedFile("c.txt", b"gamma"),
                SimpleUploadedFile("d.txt", b"delta"),
            ]
        },
        follow=True,
    )
    body = response.content.decode()
    assert "blank.pdf was not uploaded: The file is empty." in body
    assert "3 documents are uploaded; their text is being read." in body
    assert "The submitted file is empty." not in body
    assert sorted(Document.objects.filter(organization=acme).values_list("name", flat=True)) == [
        "a.txt",
        "c.txt",
        "d.txt",
    ]


def test_upload_without_files(alice_client):
    response = alice_client.post(reverse("documents:upload"), {}, follow=True)
    assert "Choose at least one file to upload." in response.content.decode()


def test_billing_members_cannot_upload(client_for, carol, documents_on):
    response = client_for(carol).post(
        reverse("documents:upload"), {"files": [SimpleUploadedFile("a.txt", b"x")]}
    )
    assert response.status_code == 403
    assert not Document.objects.exists()


def test_a_document_page_shows_status_fields_and_pages(alice_client, extracted):
    [document] = extracted(("inv.pdf", samples.pdf("Invoice No: INV-9 Total: EUR 12.00", "Page two")))
    body = alice_client.get(reverse("documents:document", args=[document.pk])).content.decode()
    assert 'data-status="succeeded"' in body
    assert "INV-9" in body
    assert "EUR 12.00" in body
    assert reverse("documents:page", args=[document.pk, 2]) in body


def test_a_failed_document_says_why(alice_client, extracted):
    [document] = extracted(("locked.pdf", samples.encrypted_pdf("x")))
    body = alice_client.get(reverse("documents:document", args=[document.pk])).content.decode()
    assert 'data-status="failed"' in body
    assert "This PDF is password-protected. Upload a copy without a password." in body


def test_the_status_partial_polls_while_the_job_runs(alice_client, documents_on, alice, acme):
    alice_client.post(reverse("documents:upload"), {"files": [SimpleUploadedFile("a.txt", b"hello there")]})
    document = Document.objects.get()
    url = reverse("documents:document", args=[document.pk])
    partial = alice_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="document-body"')
    assert 'hx-trigger="every 1s"' in partial
    assert "Key fields" not in partial
    _run(document.job.pk)
    partial = alice_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'data-status="succeeded"' in partial
    assert "hx-trigger" not in partial
    # Issue 13: the answer that finds the job done shows what it found, not a link.
    assert "Key fields" in partial
    assert "hello there" in partial  # the page's text
    assert reverse("documents:page", args=[document.pk, 1]) in partial


def test_search_page_shows_marked_snippets_linking_to_the_page(alice_client, extracted, acme):
    [document] = extracted(("manual.pdf", samples.pdf("Intro", "Turbine blades need grease.")))
    response = alice_client.get(reverse("documents:search"), {"q": "turbine"})
    body = response.content.decode()
    assert "<mark>Turbine</mark> blades" in body
    page_url = reverse("documents:page", args=[document.pk, 2]) + "?q=turbine"
    assert page_url in body
    page = alice_client.get(page_url).content.decode()
    assert "<mark>Turbine</mark> blades need grease." in page
    assert UsageEvent.objects.filter(organization=acme, meter="searches").count() == 1
    assert "1 page matches “turbine”" in body  # issue 13: it said "1 page match"


def test_a_cited_span_is_marked_on_its_page(alice_client, extracted):
    [document] = extracted(("notes.txt", b"Intro line.\nThe <b>fee</b> is $12 per month.\nEnd."))
    url = reverse("documents:page", args=[document.pk, 1])
    text = document.pages.get(number=1).text
    start = text.index("The <b>")
    end = text.index("month.") + len("month.")
    body = alice_client.get(url, {"start": start, "end": end}).content.decode()
    assert '<mark id="quote" class="quote">The &lt;b&gt;fee&lt;/b&gt; is $12 per month.</mark>' in body
    assert "The quoted passage is highlighted." in body
    # A span outside the text, or no numbers, shows the page unmarked.
    for query in ({"start": 5, "end": len(text) + 1}, {"start": 9, "end": 3}, {"start": "x", "end": "y"}):
        response = alice_client.get(url, query)
        assert response.status_code == 200 and 'id="quote"' not in response.content.decode()


def test_an_empty_search_is_not_counted(alice_client, acme):
    response = alice_client.get(reverse("documents:search"), {"q": "  "})
    assert response.status_code == 200
    assert not UsageEvent.objects.filter(organization=acme, meter="searches").exists()


def test_search_partial_for_htmx(alice_client, extracted):
    extracted(("a.txt", b"turbine"))
    partial = alice_client.get(reverse("documents:search"), {"q": "turbine"}, headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<div id="search-results">')


def test_download_the_original(alice_client, extracted):
    [document] = extracted(("a.txt", b"original bytes"))
    response = alice_client.get(reverse("documents:file", args=[document.pk]))
    assert b"".join(response.streaming_content) == b"original bytes"
    assert 'filename="a.txt"' in response["Content-Disposition"]


def test_outsiders_get_404(client_for, gina, extracted, documents_on_globex):
    [document] = extracted(("acme.pdf", samples.pdf("acme secrets")))
    client = client_for(gina)
    for url in (
        reverse("documents:document", args=[document.pk]),
        reverse("documents:page", args=[document.pk, 1]),
        reverse("documents:file", args=[document.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert "acme.pdf" not in client.get(reverse("documents:search"), {"q": "acme secrets"}).content.decode()


def test_pages_answer_403_while_documents_is_off(client_for, alice):
    assert client_for(alice).get(reverse("documents:index")).status_code == 403


def test_the_list_does_not_grow_queries_with_rows(alice_client, extracted, django_assert_max_num_queries):
    extracted(*[(f"{n}.txt", f"text {n}".encode()) for n in range(12)])
    with django_assert_max_num_queries(12):
        response = alice_client.get(reverse("documents:index"))
    assert response.content.decode().count('data-status="succeeded"') == 12
