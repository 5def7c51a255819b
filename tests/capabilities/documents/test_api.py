"""The Documents API: multipart upload of one or many files, list and detail
with extraction status, search; API keys and outsiders."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from capabilities.documents.models import Document
from capabilities.runner import _run
from metering.models import UsageEvent
from portal.actions.api_keys import create_api_key
from tests.capabilities.documents import samples

LIST = "documents-api:document-list"
SEARCH = "documents-api:search"


@pytest.fixture
def api(client_for, alice, documents_on):
    return client_for(alice)


def test_upload_one_or_many_files(api, acme):
    response = api.post(
        reverse(LIST),
        {
            "files": [
                SimpleUploadedFile("a.pdf", samples.pdf("Alpha")),
                SimpleUploadedFile("b.zip", b"\x00\x01"),
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [row["name"] for row in body["documents"]] == ["a.pdf"]
    assert body["documents"][0]["status"] == "queued"
    assert body["rejected"][0]["name"] == "b.zip"
    single = api.post(reverse(LIST), {"file": SimpleUploadedFile("c.txt", b"Gamma")})
    assert single.status_code == 201
    assert Document.objects.filter(organization=acme).count() == 2


def test_upload_of_only_rejected_files_is_a_400(api):
    response = api.post(reverse(LIST), {"files": [SimpleUploadedFile("b.exe", b"MZ")]})
    assert response.status_code == 400
    assert response.json()["documents"] == []
    assert api.post(reverse(LIST), {}).json()["detail"] == "Choose at least one file to upload."


def test_list_and_detail_show_status_fields_and_pages(api, extracted):
    [good, _bad] = extracted(("inv.txt", b"Invoice No: INV-5 total $10.00"), ("x.pdf", samples.CORRUPT_PDF))
    rows = {row["name"]: row for row in api.get(reverse(LIST)).json()["results"]}
    assert rows["inv.txt"]["status"] == "succeeded"
    assert rows["inv.txt"]["page_count"] == 1
    assert rows["x.pdf"]["status"] == "failed"
    assert rows["x.pdf"]["error"] == "This PDF is damaged and cannot be read."
    detail = api.get(reverse("documents-api:document-detail", args=[good.pk])).json()
    assert detail["fields"]["invoice_numbers"][0]["value"] == "INV-5"
    assert detail["pages"] == [{"number": 1, "method": "text", "text": "Invoice No: INV-5 total $10.00"}]


def test_search_counts_one_usage_event_per_request(api, extracted, acme):
    [document] = extracted(("a.pdf", samples.pdf("Intro", "Grease the turbine")))
    body = api.get(reverse(SEARCH), {"q": "turbine"}).json()
    assert body["query"] == "turbine"
    [hit] = body["results"]
    assert hit["document_id"] == document.pk
    assert hit["page_number"] == 2
    assert "<mark>turbine</mark>" in hit["snippet"]
    assert hit["url"] == reverse("documents:page", args=[document.pk, 2]) + "?q=turbine"
    api.get(reverse(SEARCH), {"q": "turbine"})
    assert UsageEvent.objects.filter(organization=acme, meter="searches").count() == 2


def test_search_without_words_finds_nothing_and_is_not_counted(api, acme):
    response = api.get(reverse(SEARCH), {"q": " ? "})
    assert response.json() == {"query": "?", "results": []}
    assert not UsageEvent.objects.filter(organization=acme, meter="searches").exists()


def test_with_an_api_key(alice, acme, documents_on):
    _, secret = create_api_key(alice, acme, name="scanner", scope="manage")
    client = Client(headers={"Authorization": f"Api-Key {secret}"})
    response = client.post(reverse(LIST), {"files": [SimpleUploadedFile("a.txt", b"key upload turbine")]})
    assert response.status_code == 201
    document = Document.objects.get()
    _run(document.job.pk)
    assert client.get(reverse(SEARCH), {"q": "turbine"}).json()["results"][0]["document_id"] == document.pk


def test_outsiders_get_404_and_see_nothing(client_for, gina, extracted, documents_on_globex):
    [document] = extracted(("acme.txt", b"acme turbine"))
    client = client_for(gina)
    assert client.get(reverse("documents-api:document-detail", args=[document.pk])).status_code == 404
    assert client.get(reverse(LIST)).json()["results"] == []
    assert client.get(reverse(SEARCH), {"q": "turbine"}).json()["results"] == []


def test_off_means_403_capability_disabled(client_for, alice):
    response = client_for(alice).get(reverse(LIST))
    assert response.status_code == 403
    assert "switched off" in response.json()["detail"]


def test_documented_in_the_openapi_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert "multipart/form-data" in paths["/api/v1/c/documents/documents/"]["post"]["requestBody"]["content"]
    assert "get" in paths["/api/v1/c/documents/documents/{document_id}/"]
    assert paths["/api/v1/c/documents/documents/search/"]["get"]["parameters"][0]["name"] == "q"


def test_the_list_does_not_grow_queries_with_rows(api, extracted, django_assert_max_num_queries):
    extracted(*[(f"{n}.txt", f"text {n}".encode()) for n in range(12)])
    with django_assert_max_num_queries(12):
        response = api.get(reverse(LIST))
    assert len(response.json()["results"]) == 12
