"""The IT admins' pages of external capabilities (/manage/capabilities/,
issue 18), and what the catalog shows of a service."""

from __future__ import annotations

import pytest

from capabilities.models import ExternalCapability, ServiceCredential
from capabilities.registry import registry
from tests.html import text as text_of

pytestmark = pytest.mark.django_db

FORM = {
    "key": "translation",
    "name": "Translation",
    "summary": "Documents in 30 languages",
    "category": "Language",
    "version": "1.0.0",
    "documentation_url": "https://docs.example.com/translation",
    "health_url": "",
    "meters-TOTAL_FORMS": "3",
    "meters-INITIAL_FORMS": "0",
    "meters-MIN_NUM_FORMS": "0",
    "meters-MAX_NUM_FORMS": "20",
    "meters-0-key": "characters",
    "meters-0-unit": "1,000 characters",
    "meters-0-unit_price": "0.02",
    "meters-0-currency": "usd",
    "meters-1-currency": "usd",
    "meters-2-currency": "usd",
}


def test_the_list_starts_empty_with_a_way_to_register(client_for, ivan):
    page = client_for(ivan).get("/manage/capabilities/")
    assert page.status_code == 200
    words = text_of(page)
    assert "No external capability yet" in words and "Register a capability" in words


def test_an_it_admin_registers_one_from_the_form(client_for, ivan, alice, acme):
    admin = client_for(ivan)
    assert admin.get("/manage/capabilities/new/").status_code == 200
    answer = admin.post("/manage/capabilities/new/", FORM)
    assert answer.status_code == 302 and answer["Location"] == "/manage/capabilities/translation/"
    assert "translation" in registry()
    detail = text_of(admin.get("/manage/capabilities/translation/"))
    assert "No credential yet" in detail and "1,000 characters" in detail

    catalog = text_of(client_for(alice).get("/"))
    assert "Translation" in catalog and "Runs as a separate service" in catalog


def test_a_bad_form_says_what_is_wrong_and_keeps_what_was_typed(client_for, ivan):
    answer = client_for(ivan).post(
        "/manage/capabilities/new/", {**FORM, "key": "documents", "meters-1-key": "pages"}
    )
    assert answer.status_code == 400
    words = text_of(answer)
    assert "A meter needs its key, its unit and its price per unit." in words
    answer = client_for(ivan).post("/manage/capabilities/new/", {**FORM, "key": "documents"})
    assert answer.status_code == 400
    assert "installed in the portal" in text_of(answer)
    assert 'value="Documents in 30 languages"' in answer.content.decode()
    assert not ExternalCapability.objects.exists()


def test_every_mistake_shows_at_once_each_under_its_field(client_for, ivan):
    """A bad key with a bad URL: both said; a price with too many places: only that."""
    answer = client_for(ivan).post(
        "/manage/capabilities/new/",
        {**FORM, "key": "Translation!", "health_url": "not a url", "meters-0-unit_price": "0.0000001"},
    )
    assert answer.status_code == 400
    words = text_of(answer)
    assert "2 to 40 characters: lower-case letters, digits and underscores" in words
    assert "Enter a valid URL." in words
    assert "no more than 6 decimal places" in words
    assert "A meter needs its key, its unit and its price per unit." not in words
    assert not ExternalCapability.objects.exists()


def test_a_credential_is_shown_once(client_for, ivan):
    admin = client_for(ivan)
    admin.post("/manage/capabilities/new/", FORM)
    issued = admin.post("/manage/capabilities/translation/credentials/", {"name": "prod"})
    assert issued.status_code == 302
    first = admin.get("/manage/capabilities/translation/").content.decode()
    credential = ServiceCredential.objects.get()
    assert f'id="new-secret">{credential.prefix}.' in first
    second = admin.get("/manage/capabilities/translation/").content.decode()
    assert 'id="new-secret"' not in second and f"{credential.prefix}…" in second

    admin.post(f"/manage/capabilities/translation/credentials/{credential.prefix}/rotate/")
    assert ServiceCredential.objects.filter(revoked=False).count() == 1
    assert 'id="new-secret"' in admin.get("/manage/capabilities/translation/").content.decode()


def test_retiring_from_the_page(client_for, ivan, alice, acme, switch):
    admin = client_for(ivan)
    admin.post("/manage/capabilities/new/", FORM)
    switch(alice, acme, "translation")
    assert admin.post("/manage/capabilities/translation/retire/", {"reason": ""}).status_code == 302
    assert "translation" in registry()  # no reason, no retirement
    admin.post("/manage/capabilities/translation/retire/", {"reason": "Replaced by Translation 2"})
    assert "translation" not in registry()
    page = text_of(admin.get("/manage/capabilities/translation/"))
    assert "Retired on" in page and "Replaced by Translation 2" in page
    assert "Translation" not in text_of(client_for(alice).get("/"))


def test_the_change_form_keeps_the_key(client_for, ivan):
    admin = client_for(ivan)
    admin.post("/manage/capabilities/new/", FORM)
    form = {
        **FORM,
        "key": "sneaky",
        "name": "Translation Pro",
        "meters-INITIAL_FORMS": "1",
        "meters-0-key": "characters",
    }
    answer = admin.post("/manage/capabilities/translation/change/", form)
    assert answer.status_code == 302
    service = ExternalCapability.objects.get()
    assert (service.key, service.name) == ("translation", "Translation Pro")


def test_members_and_owners_cannot_reach_the_pages(client_for, alice, fiona):
    assert client_for(alice).get("/manage/capabilities/").status_code == 403
    assert client_for(alice).get("/manage/capabilities/new/").status_code == 403
    assert client_for(fiona).get("/manage/capabilities/").status_code == 200
    assert client_for(fiona).get("/manage/capabilities/new/").status_code == 403
