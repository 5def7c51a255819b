"""The IT admin's per-tenant toggle page under /manage/: ivan sees every
toggle, forces a capability on or off with a reason (which locks it) and
unlocks it; fiona reads; organization people are kept out."""

from __future__ import annotations

import pytest

from capabilities.models import ToggleChange
from capabilities.registry import registry
from tests.capabilities.state import states
from tests.html import text

PAGE = "/manage/organizations/acme/capabilities/"


def force_url(key: str, slug: str = "acme") -> str:
    return f"/manage/organizations/{slug}/capabilities/{key}/"


def test_ivan_sees_every_toggle_of_acme(client_for, ivan, alice, acme, switch):
    switch(alice, acme, "glossary", enabled=True)

    response = client_for(ivan).get(PAGE)

    assert response.status_code == 200
    page = text(response)
    assert "Capabilities of Acme Corp" in page
    for title in ("Text recognition", "Summaries", "Glossary"):
        assert f"<strong>{title}</strong>" in page
    assert "needs Text recognition" in page
    assert page.count('name="action"') == len(registry())
    assert 'id="toggle-glossary"' in page
    assert '<span class="badge badge-ok">On</span>' in page


def test_fiona_reads_the_toggles_without_forms(client_for, fiona, acme):
    client = client_for(fiona)

    response = client.get(PAGE)

    assert response.status_code == 200
    page = text(response)
    assert "<strong>Text recognition</strong>" in page
    assert 'name="action"' not in page
    assert force_url("ocr") not in page

    assert client.post(force_url("ocr"), {"action": "force_on", "reason": "x"}).status_code == 403
    assert states(acme) == {}


@pytest.mark.parametrize("person", ["alice", "bob", "carol", "gina"])
def test_organization_people_are_kept_out(client_for, cast, acme, person):
    client = client_for(cast[person])

    assert client.get(PAGE).status_code == 403
    response = client.post(force_url("ocr"), {"action": "force_on", "reason": "I want it"})
    assert response.status_code == 403
    assert states(acme) == {}


def test_an_unknown_tenant_or_capability_is_not_found(client_for, ivan, acme):
    client = client_for(ivan)

    assert client.get("/manage/organizations/initech/capabilities/").status_code == 404
    assert (
        client.post(force_url("ocr", slug="initech"), {"action": "force_on", "reason": "x"}).status_code
        == 404
    )
    assert client.post(force_url("retired"), {"action": "force_on", "reason": "x"}).status_code == 404


def test_forcing_without_a_reason_changes_nothing(client_for, ivan, acme):
    response = client_for(ivan).post(force_url("ocr"), {"action": "force_on", "reason": "  "}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert "Give a reason: the organization sees it beside the lock." in text(response)
    assert states(acme) == {}
    assert not ToggleChange.objects.exists()


def test_ivan_forces_summaries_on_and_it_is_locked(client_for, ivan, alice, acme):
    response = client_for(ivan).post(
        force_url("summaries"), {"action": "force_on", "reason": "Enterprise plan"}, follow=True
    )

    page = text(response)
    assert (
        "Summaries is forced on and locked for Acme Corp. Switched on: Summaries, Text recognition." in page
    )
    assert '<span class="badge badge-warn">Locked</span> <span class="small">Enterprise plan</span>' in page
    assert states(acme) == {"summaries": (True, True), "ocr": (True, False), "glossary": (False, False)}

    # Acme sees the lock and its reason; alice cannot switch it.
    catalog = text(client_for(alice).get("/"))
    assert "Locked on: Enterprise plan" in catalog
    assert 'aria-label="Switch off Summaries"' not in catalog


def test_ivan_forces_ocr_off(client_for, ivan, alice, acme, switch):
    switch(alice, acme, "ocr", enabled=True)

    response = client_for(ivan).post(
        force_url("ocr"), {"action": "force_off", "reason": "Contract under review"}, follow=True
    )

    assert "Text recognition is forced off and locked for Acme Corp." in text(response)
    assert states(acme)["ocr"] == (False, True)


def test_ivan_unlocks_and_acme_can_switch_again(client_for, ivan, alice, acme, force):
    force(ivan, acme, "ocr", enabled=False, reason="Contract under review")
    client = client_for(ivan)
    assert '<option value="unlock" selected>Unlock</option>' in text(client.get(PAGE))

    response = client.post(force_url("ocr"), {"action": "unlock", "reason": ""}, follow=True)

    assert "Text recognition is unlocked: Acme Corp can switch it again." in text(response)
    assert states(acme)["ocr"] == (False, False)
    assert 'aria-label="Switch on Text recognition"' in text(client_for(alice).get("/"))


def test_unlocking_what_is_not_locked_says_so(client_for, ivan, acme):
    response = client_for(ivan).post(force_url("glossary"), {"action": "unlock"}, follow=True)

    assert "Glossary is not locked." in text(response)
    assert states(acme) == {}


def test_a_locked_dependent_is_explained_to_ivan(client_for, ivan, acme, force):
    force(ivan, acme, "summaries", enabled=True, reason="Enterprise plan")

    response = client_for(ivan).post(
        force_url("ocr"), {"action": "force_off", "reason": "Vendor outage"}, follow=True
    )

    assert "Summaries is locked on" in text(response)
    assert states(acme)["ocr"] == (True, False)


def test_forcing_in_acme_leaves_globex_alone(client_for, ivan, acme, globex):
    client_for(ivan).post(force_url("ocr"), {"action": "force_on", "reason": "Enterprise plan"})

    assert states(acme)["ocr"] == (True, True)
    assert states(globex) == {}


def test_the_pages_query_count_does_not_grow_with_changes(
    client_for, ivan, alice, acme, switch, force, django_assert_max_num_queries
):
    for round_ in range(10):
        switch(alice, acme, "summaries", enabled=round_ % 2 == 0, include_related=True)
    force(ivan, acme, "glossary", enabled=True, reason="Enterprise plan")
    client = client_for(ivan)
    client.get(PAGE)

    # session, user, membership, organization, toggles, degraded capabilities, pending
    # scheduled switches, switcher
    with django_assert_max_num_queries(8):
        assert client.get(PAGE).status_code == 200
