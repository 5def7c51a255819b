"""The contract tracker's API: list (paginated, filtered, the next deadline
first), detail with citations, PATCH corrections (validated, audited), and
404 for another organization's contract."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from capabilities.contracts.actions import store_analysis
from capabilities.contracts.fields import Finding
from capabilities.contracts.models import ContractCorrection
from capabilities.documents.actions import upload_documents
from portal.actions.api_keys import create_api_key
from portal.models import AuditEntry
from tests.capabilities.contracts.conftest import eval_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client_for, alice, contracts_on):
    return client_for(alice)


def _contract(organization, actor, name, *, deadline_in=None, auto_renews=None):
    [document] = upload_documents(actor, organization, [SimpleUploadedFile(name, b"terms")]).documents
    values = {"auto_renews": auto_renews}
    if deadline_in is not None:
        values["notice_deadline"] = timezone.localdate() + timedelta(days=deadline_in)
    return store_analysis(document, Finding(is_contract=True, values=values))


def test_the_list_is_paginated_sorted_and_filtered(api, alice, acme, django_assert_max_num_queries):
    for number in range(15):
        _contract(acme, alice, f"bulk-{number}.txt", deadline_in=100 + number)
    _contract(acme, alice, "soon.txt", deadline_in=5, auto_renews=True)
    url = reverse("contracts-api:contract-list")
    with django_assert_max_num_queries(12):
        body = api.get(url).json()
    assert body["count"] == 16
    assert body["results"][0]["document_name"] == "soon.txt"
    names = [row["document_name"] for row in body["results"]]
    assert names[1:4] == ["bulk-0.txt", "bulk-1.txt", "bulk-2.txt"]
    filtered = api.get(url, {"deadline_within": "30", "auto_renews": "true"}).json()
    assert [row["document_name"] for row in filtered["results"]] == ["soon.txt"]
    assert api.get(url, {"deadline_within": "45"}).status_code == 400
    assert api.get(url, {"auto_renews": ""}).status_code == 400


def test_the_detail_has_every_field_with_its_citations(api, upload):
    [contract] = upload(eval_file("02-saas-subscription.txt"))
    body = api.get(reverse("contracts-api:contract-detail", args=[contract.pk])).json()
    assert body["is_contract"] is True
    assert body["parties"] == ["Globex Corporation", "Initech Software LLC"]
    assert (body["effective_date"], body["term_months"], body["expiry_date"]) == (
        "2025-03-01",
        24,
        "2027-02-28",
    )
    assert (body["auto_renews"], body["renewal_term_months"], body["notice_period_days"]) == (True, 12, 90)
    assert body["notice_deadline"] == "2026-11-30" and body["governing_law"] == "New York"
    [law] = body["citations"]["governing_law"]
    page = contract.document.pages.get(number=law["page"])
    assert page.text[law["start"] : law["end"]] == law["quote"]
    assert body["computed"] == ["expiry_date", "notice_deadline"] and body["corrected"] == []
    assert body["url"] == reverse("contracts:contract", args=[contract.pk])


def test_patch_corrects_a_field_audited(api, upload, alice):
    [contract] = upload(eval_file("02-saas-subscription.txt"))
    url = reverse("contracts-api:contract-detail", args=[contract.pk])
    response = api.patch(
        url,
        {"field": "expiry_date", "value": "2027-12-31", "note": "amended"},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["expiry_date"] == "2027-12-31" and body["notice_deadline"] == "2027-10-02"
    assert body["corrected"] == ["expiry_date"]
    entry = AuditEntry.objects.get(action="contracts.corrected")
    assert entry.actor == alice and entry.details["new"] == "2027-12-31"
    parties = api.patch(
        url, {"field": "parties", "value": ["A Ltd", "B Ltd"]}, content_type="application/json"
    )
    assert parties.json()["parties"] == ["A Ltd", "B Ltd"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"field": "expiry_date", "value": "tomorrow"}, "value"),
        ({"field": "term_months", "value": 1.5}, "value"),
        ({"field": "auto_renews", "value": {"x": 1}}, "value"),
        ({"field": "nope", "value": "1"}, "field"),
        ({"value": "1"}, "field"),
        ({"field": "governing_law"}, "value"),
    ],
)
def test_patch_refuses_bad_values_with_400(api, upload, body, where):
    [contract] = upload(eval_file("02-saas-subscription.txt"))
    response = api.patch(
        reverse("contracts-api:contract-detail", args=[contract.pk]), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert where in response.json()["errors"]
    assert not ContractCorrection.objects.exists()


def test_a_read_key_and_billing_may_not_correct(client_for, carol, alice, acme, contracts_on, upload):
    [contract] = upload(eval_file("02-saas-subscription.txt"))
    url = reverse("contracts-api:contract-detail", args=[contract.pk])
    patch = {"field": "governing_law", "value": "Texas"}
    assert client_for(carol).get(url).status_code == 200
    assert client_for(carol).patch(url, patch, content_type="application/json").status_code == 403
    _, secret = create_api_key(alice, acme, name="reader", scope="read")
    reader = Client(headers={"Authorization": f"Api-Key {secret}"})
    assert reader.get(url).status_code == 200
    assert reader.patch(url, patch, content_type="application/json").status_code == 403
    assert not ContractCorrection.objects.exists()


def test_an_outsider_gets_404(client_for, gina, contracts_on, contracts_on_globex, upload):
    [contract] = upload(eval_file("02-saas-subscription.txt"))
    client = client_for(gina)
    url = reverse("contracts-api:contract-detail", args=[contract.pk])
    assert client.get(url).status_code == 404
    patch = {"field": "governing_law", "value": "Texas"}
    assert client.patch(url, patch, content_type="application/json").status_code == 404
    assert client.get(reverse("contracts-api:contract-list")).json()["count"] == 0
    assert not ContractCorrection.objects.exists()
