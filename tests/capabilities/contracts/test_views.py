"""The contract tracker's pages: the table sorted by the notice deadline, its
filters, the CSV export and the empty state; a contract with its citations and
the correction form (members correct, billing reads); outsiders get 404."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from capabilities.contracts.actions import store_analysis
from capabilities.contracts.fields import Finding
from capabilities.contracts.models import Contract, ContractCorrection
from capabilities.documents.actions import upload_documents
from portal.models import AuditEntry
from tests.capabilities.contracts.conftest import eval_file

pytestmark = pytest.mark.django_db


def _contract(organization, actor, name, *, deadline_in=None, auto_renews=None, is_contract=True) -> Contract:
    """A contract as if analysed, its deadline `deadline_in` days from today."""
    [document] = upload_documents(actor, organization, [SimpleUploadedFile(name, b"terms")]).documents
    values = {"parties": [f"{name} Buyer", f"{name} Seller"], "auto_renews": auto_renews}
    if deadline_in is not None:
        values["notice_deadline"] = timezone.localdate() + timedelta(days=deadline_in)
    return store_analysis(document, Finding(is_contract=is_contract, values=values))


@pytest.fixture
def alice_client(client_for, alice, contracts_on):
    return client_for(alice)


def _names(body: str) -> list[str]:
    return [name for name in ("soon.txt", "later.txt", "undated.txt", "passed.txt") if name in body]


def test_the_table_lists_contracts_the_next_deadline_first(
    alice_client, alice, acme, django_assert_max_num_queries
):
    _contract(acme, alice, "undated.txt")
    _contract(acme, alice, "later.txt", deadline_in=80, auto_renews=True)
    _contract(acme, alice, "soon.txt", deadline_in=10, auto_renews=True)
    _contract(acme, alice, "memo.txt", is_contract=False)
    for number in range(12):
        _contract(acme, alice, f"bulk-{number}.txt", deadline_in=200 + number, auto_renews=False)
    # 13: the layout's approval state (the Requests count, cached) costs one query when cold.
    with django_assert_max_num_queries(13):
        response = alice_client.get(reverse("contracts:index"))
    body = response.content.decode()
    assert response.status_code == 200
    order = [
        body.index(name) for name in ("soon.txt", "later.txt", "bulk-0.txt", "bulk-11.txt", "undated.txt")
    ]
    assert order == sorted(order)
    assert "memo.txt" not in body  # not a contract
    assert "in 10 days" in body and "Export CSV" in body


def test_a_renewed_contract_shows_the_current_term_end_and_keeps_the_first(alice_client, alice, acme):
    """The first term ended about two years ago; the table shows the term
    running now, the first term's end beside it and on the contract's page."""
    [document] = upload_documents(alice, acme, [SimpleUploadedFile("lease.txt", b"terms")]).documents
    first_end = timezone.localdate() - timedelta(days=700)
    contract = store_analysis(
        document,
        Finding(
            is_contract=True,
            values={
                "expiry_date": first_end,
                "auto_renews": True,
                "renewal_term_months": 12,
                "notice_period_days": 30,
                "notice_deadline": first_end - timedelta(days=30),
            },
        ),
    )
    assert contract.current_term_end is not None and contract.current_term_end >= timezone.localdate()
    body = alice_client.get(reverse("contracts:index")).content.decode()
    assert f'<time datetime="{contract.current_term_end.isoformat()}">' in body
    assert f"renewed; first term ended {first_end.isoformat()}" in body
    page = alice_client.get(reverse("contracts:contract", args=[contract.pk])).content.decode()
    assert "the current term ends on" in page and first_end.strftime("%-d %B %Y") in page


def test_the_filters_renewal_and_deadline_window(alice_client, alice, acme):
    _contract(acme, alice, "soon.txt", deadline_in=10, auto_renews=True)
    _contract(acme, alice, "later.txt", deadline_in=80, auto_renews=False)
    _contract(acme, alice, "passed.txt", deadline_in=-3, auto_renews=True)
    _contract(acme, alice, "undated.txt")
    url = reverse("contracts:index")
    assert _names(alice_client.get(url, {"deadline_within": "30"}).content.decode()) == ["soon.txt"]
    assert _names(alice_client.get(url, {"deadline_within": "90"}).content.decode()) == [
        "soon.txt",
        "later.txt",
    ]
    assert _names(alice_client.get(url, {"auto_renews": "true"}).content.decode()) == [
        "soon.txt",
        "passed.txt",
    ]
    assert (
        _names(alice_client.get(url, {"auto_renews": "false", "deadline_within": "60"}).content.decode())
        == []
    )
    # A value that is no choice is shown as an error, not a 500.
    response = alice_client.get(url, {"deadline_within": "7"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_the_csv_export_follows_the_filters(alice_client, alice, acme):
    soon = _contract(acme, alice, "soon.txt", deadline_in=10, auto_renews=True)
    _contract(acme, alice, "later.txt", deadline_in=80)
    _contract(acme, alice, "=cmd.txt", deadline_in=20)
    for url, query in (
        (reverse("contracts:export"), {"deadline_within": "30"}),
        (reverse("contracts:index"), {"deadline_within": "30", "format": "csv"}),
    ):
        response = alice_client.get(url, query)
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert [row["document"] for row in rows] == ["soon.txt", "'=cmd.txt"]
        assert rows[0]["notice_deadline"] == soon.notice_deadline.isoformat()
        assert rows[0]["auto_renews"] == "yes" and rows[0]["parties"] == "soon.txt Buyer; soon.txt Seller"
        assert rows[0]["url"].endswith(reverse("contracts:contract", args=[soon.pk]))


def test_the_empty_state_says_how_contracts_get_here(alice_client):
    body = alice_client.get(reverse("contracts:index")).content.decode()
    assert "No contracts yet" in body and reverse("documents:index") in body
    assert "Export CSV" not in body


def test_a_contract_page_shows_each_value_with_its_citation(alice_client, contracts_on, upload):
    [contract] = upload(eval_file("01-imaging-services.txt"))
    body = alice_client.get(reverse("contracts:contract", args=[contract.pk])).content.decode()
    [cited] = contract.citations["notice_period_days"]
    link = (
        f"{reverse('documents:document', args=[contract.document_id])}?page=1&amp;start={cited['start']}"
        f"&amp;end={cited['end']}#page-1"
    )
    assert link in body
    assert "60 days" in body and "at least sixty (60) days&#x27; written notice" in body
    assert "30 December 2025" in body  # the notice deadline
    assert "Computed" in body
    assert "England and Wales" in body and "Save correction" in body


def test_unknown_values_say_so(alice_client, contracts_on, upload):
    [contract] = upload(eval_file("07-nda.txt"))
    body = alice_client.get(reverse("contracts:contract", args=[contract.pk])).content.decode()
    # Known: the parties and the governing law; the other eight are not in the text.
    assert body.count("Unknown — the document does not say") == 8


def test_a_member_corrects_a_value_from_the_page(client_for, bob, contracts_on, upload):
    [contract] = upload(eval_file("01-imaging-services.txt"))
    client = client_for(bob)
    url = reverse("contracts:correct", args=[contract.pk])
    response = client.post(
        url, {"field": "notice_period_days", "value": "90", "note": "side letter"}, follow=True
    )
    assert "Notice period (days) is corrected" in response.content.decode()
    contract.refresh_from_db()
    assert contract.notice_period_days == 90 and contract.notice_deadline == date(2025, 11, 30)
    assert AuditEntry.objects.filter(action="contracts.corrected", actor=bob).count() == 1

    bad = client.post(url, {"field": "expiry_date", "value": "soonish"})
    assert bad.status_code == 400 and "is not a date" in bad.content.decode()
    unknown_field = client.post(url, {"field": "colour", "value": "red"})
    assert unknown_field.status_code == 400
    assert ContractCorrection.objects.count() == 1


def test_billing_reads_but_does_not_correct(client_for, carol, contracts_on, upload):
    [contract] = upload(eval_file("01-imaging-services.txt"))
    client = client_for(carol)
    page = client.get(reverse("contracts:contract", args=[contract.pk]))
    assert page.status_code == 200 and "Save correction" not in page.content.decode()
    response = client.post(
        reverse("contracts:correct", args=[contract.pk]), {"field": "governing_law", "value": "X"}
    )
    assert response.status_code == 403
    assert not ContractCorrection.objects.exists()


def test_an_outsider_gets_404(client_for, gina, contracts_on, contracts_on_globex, upload):
    [contract] = upload(eval_file("01-imaging-services.txt"))
    client = client_for(gina)
    assert client.get(reverse("contracts:contract", args=[contract.pk])).status_code == 404
    response = client.post(
        reverse("contracts:correct", args=[contract.pk]), {"field": "governing_law", "value": "X"}
    )
    assert response.status_code == 404
    assert "Northwind" not in client.get(reverse("contracts:index")).content.decode()
    assert not ContractCorrection.objects.exists()
