"""The requests pages: asking from the catalog and a capability's page, the
requests page with its filters and empty states, deciding, the navigation's
badge, the approval limit on the settings page and the IT admin's rule."""

from __future__ import annotations

import re

import pytest

from capabilities.approvals.models import ApprovalPolicy, CapabilityRequest
from tests.capabilities.state import enabled_in
from tests.factories import UserFactory
from tests.html import text

HTMX = {"HX-Request": "true"}


def nav_count(page: str) -> str | None:
    found = re.search(r'<span class="nav-count"[^>]*>(\d+)</span>', page)
    return found.group(1) if found else None


def test_bob_asks_from_the_catalog_and_alice_approves_from_the_requests_page(client_for, acme, alice, bob):
    bob_client, alice_client = client_for(bob), client_for(alice)
    catalog = text(bob_client.get("/"))
    assert "Ask for Glossary" in catalog

    panel = bob_client.get("/requests/new/?capability=glossary", headers=HTMX)
    assert panel.status_code == 200 and "<html" not in panel.content.decode()
    assert "Ask to switch on Glossary" in text(panel)

    sent = bob_client.post(
        "/requests/new/", {"capability": "glossary", "enabled": "on", "reason": "Shared terms"}, headers=HTMX
    )
    assert sent.status_code == 200 and "Request sent" in text(sent)
    assert "Requested" in text(bob_client.get("/"))

    home = alice_client.get("/").content.decode()
    assert nav_count(home) == "1"
    page = text(alice_client.get("/requests/"))
    assert "Shared terms" in page and "Asked by Bob Baker" in page
    request = CapabilityRequest.objects.get()

    answer = alice_client.post(f"/requests/{request.pk}/approve/", {"note": "Enjoy"})
    assert answer.status_code == 302
    assert enabled_in(acme) == {"glossary"}
    assert "Approved: Glossary is switched on, and Bob Baker is told." in text(alice_client.get("/requests/"))
    assert nav_count(alice_client.get("/").content.decode()) is None

    decided = text(bob_client.get("/requests/?status=decided"))
    assert "Approved by Alice Archer" in decided and "“Enjoy”" in decided


def test_the_capability_page_offers_to_ask_and_shows_a_pending_request(client_for, acme, bob):
    client = client_for(bob)
    assert "Ask for Text recognition" in text(client.get("/capabilities/ocr/"))

    client.post("/requests/new/", {"capability": "ocr", "enabled": "on", "reason": "Scans"})

    page = text(client.get("/capabilities/ocr/"))
    assert "Switching on Text recognition was asked for" in page
    assert "Ask for Text recognition" not in page


def test_the_request_page_refuses_bad_input_with_words(client_for, acme, bob):
    client = client_for(bob)
    unknown = client.post("/requests/new/", {"capability": "teleport", "enabled": "on", "reason": "x"})
    assert unknown.status_code == 400
    assert "No such capability is installed; pick one from the list." in text(unknown)
    no_reason = client.post("/requests/new/", {"capability": "ocr", "enabled": "on", "reason": ""})
    assert no_reason.status_code == 400
    assert "Say why you need it" in text(no_reason)
    client.post("/requests/new/", {"capability": "ocr", "enabled": "on", "reason": "Scans"})
    twice = client.post("/requests/new/", {"capability": "ocr", "enabled": "on", "reason": "Scans"})
    assert twice.status_code == 400 and "already asked for" in text(twice)
    assert CapabilityRequest.objects.count() == 1


def test_empty_states_say_what_to_do(client_for, acme, alice, bob):
    assert "No requests yet" in text(client_for(alice).get("/requests/"))
    assert "Ask for it from its page or the catalog" in text(client_for(bob).get("/requests/"))
    client_for(bob).post("/requests/new/", {"capability": "ocr", "enabled": "on", "reason": "Scans"})
    assert "Nothing decided yet" in text(client_for(alice).get("/requests/?status=decided"))


def test_bob_sees_his_own_requests_and_alice_sees_all(client_for, acme, alice, bob, carol):
    client_for(bob).post("/requests/new/", {"capability": "ocr", "enabled": "on", "reason": "bob scans"})
    client_for(carol).post(
        "/requests/new/", {"capability": "glossary", "enabled": "on", "reason": "carol terms"}
    )

    bobs = text(client_for(bob).get("/requests/"))
    assert "bob scans" in bobs and "carol terms" not in bobs
    assert "Approve and switch on" not in bobs
    alices = text(client_for(alice).get("/requests/"))
    assert "bob scans" in alices and "carol terms" in alices


def test_gina_cannot_decide_acmes_request(client_for, acme, bob, gina):
    client_for(bob).post("/requests/new/", {"capability": "ocr", "enabled": "on", "reason": "Scans"})
    request = CapabilityRequest.objects.get()

    assert client_for(gina).post(f"/requests/{request.pk}/approve/").status_code == 404
    assert client_for(gina).post(f"/requests/{request.pk}/decline/").status_code == 404
    assert CapabilityRequest.objects.get().status == "pending"


def test_bob_cannot_decide_and_is_told_why(client_for, acme, bob, carol):
    client_for(carol).post("/requests/new/", {"capability": "ocr", "enabled": "on", "reason": "Scans"})
    request = CapabilityRequest.objects.get()
    client = client_for(bob)

    client.post(f"/requests/{request.pk}/approve/")

    assert "Only owners and admins decide on requests." in text(client.get("/requests/"))
    assert enabled_in(acme) == set()


def test_a_failed_approval_says_why_and_the_request_waits(client_for, force, acme, alice, bob, ivan):
    client_for(bob).post("/requests/new/", {"capability": "summaries", "enabled": "on", "reason": "Digests"})
    force(ivan, acme, "ocr", enabled=False, reason="Contract ended")
    request = CapabilityRequest.objects.get()
    client = client_for(alice)

    client.post(f"/requests/{request.pk}/approve/", {"note": "ok"})

    page = text(client.get("/requests/"))
    assert "The request can't be carried out, so it stays pending:" in page
    assert "Text recognition is locked off by your platform administrator" in page
    assert CapabilityRequest.objects.get().status == "pending"


def test_the_requests_page_query_count_does_not_grow(client_for, acme, alice, django_assert_max_num_queries):
    client = client_for(alice)
    client.get("/requests/")
    for number in range(15):
        asker = UserFactory()
        acme.memberships.create(user=asker, role="member")
        client_for(asker).post(
            "/requests/new/",
            {"capability": "ocr" if number % 2 else "glossary", "enabled": "on", "reason": f"r{number}"},
        )
        CapabilityRequest.objects.filter(status="pending").update(status="declined")  # room for the next
    with django_assert_max_num_queries(12):
        response = client.get("/requests/?status=decided")
    assert text(response).count("Declined") >= 15


# --- four eyes in the toggle flow ----------------------------------------------------


def test_over_the_limit_alices_switch_on_becomes_a_request_panel(client_for, acme, alice, dan):
    client = client_for(alice)
    assert client.post("/settings/approvals/", {"cost_limit": "50"}).status_code == 302

    panel = client.get("/capabilities/ocr/toggle/?enabled=1", headers=HTMX)

    assert panel.status_code == 200
    body = text(panel)
    assert "Ask to switch on Text recognition" in body
    assert "there is no cost estimate yet for Text recognition" in body
    sent = client.post(
        "/requests/new/", {"capability": "ocr", "enabled": "on", "reason": "Archive"}, headers=HTMX
    )
    assert "Request sent" in text(sent)
    request = CapabilityRequest.objects.get()
    assert request.why == "cost_limit"

    page = text(client.get("/requests/"))
    assert "Your own request: another owner or admin decides on it." in page
    assert nav_count(client.get("/").content.decode()) is None  # nothing for alice to decide
    assert nav_count(client_for(dan).get("/").content.decode()) == "1"
    client_for(dan).post(f"/requests/{request.pk}/approve/")
    assert enabled_in(acme) == {"ocr"}


def test_under_the_it_rule_a_free_switch_from_the_catalog_opens_the_request_panel(
    client_for, acme, alice, ivan
):
    client_for(ivan).post(
        f"/manage/organizations/{acme.slug}/approvals/",
        {"approvals-every_switch_on": "on", "approvals-reason": "Audit season"},
    )
    client = client_for(alice)
    card = client.get("/").content.decode()
    assert 'hx-get="/capabilities/glossary/toggle/?enabled=1"' in card  # asks first now

    # A card drawn before the rule posts directly: the answer retargets to the panel.
    answer = client.post("/capabilities/glossary/toggle/", {"enabled": "on"}, headers=HTMX)
    assert answer.status_code == 200
    assert answer["HX-Retarget"] == "#confirm-glossary"
    assert "requires approval for every switch-on in Acme Corp: “Audit season”" in text(answer)
    assert enabled_in(acme) == set()


# --- the settings page and the tenant page ----------------------------------------------


def test_alice_sets_the_approval_limit_and_bad_values_are_refused(client_for, acme, alice):
    client = client_for(alice)
    section = client.get("/settings/approvals/", headers=HTMX)
    assert section.status_code == 200 and "Now: no limit." in text(section)

    for bad, message in [("-5", "The limit can't be negative."), ("lots", "Enter an amount such as 100")]:
        refused = client.post("/settings/approvals/", {"cost_limit": bad})
        assert refused.status_code == 400 and message in text(refused)

    client.post("/settings/approvals/", {"cost_limit": "250.50"})
    assert ApprovalPolicy.objects.get(organization=acme).cost_limit == pytest.approx(250.5)
    assert "Now: switch-ons above $250.50 a month need approval." in text(client.get("/settings/approvals/"))
    assert 'hx-get="/settings/approvals/"' in client.get("/settings/").content.decode()


def test_bob_cannot_set_the_limit(client_for, acme, bob):
    assert client_for(bob).post("/settings/approvals/", {"cost_limit": "1"}).status_code == 403
    assert not ApprovalPolicy.objects.exists()


def test_ivan_sets_the_rule_on_the_tenant_page_with_a_reason(client_for, acme, alice, ivan):
    client = client_for(ivan)
    assert (
        'hx-get="/manage/organizations/acme/approvals/"'
        in client.get("/manage/organizations/acme/").content.decode()
    )

    no_reason = client.post(
        "/manage/organizations/acme/approvals/", {"approvals-every_switch_on": "on", "approvals-reason": ""}
    )
    assert no_reason.status_code == 400 and "Give a reason" in text(no_reason)

    client.post(
        "/manage/organizations/acme/approvals/",
        {"approvals-every_switch_on": "on", "approvals-reason": "Audit season"},
    )
    assert ApprovalPolicy.objects.get(organization=acme).every_switch_on
    assert "Every switch-on needs approval" in text(client.get("/manage/organizations/acme/approvals/"))
    settings_section = text(client_for(alice).get("/settings/approvals/"))
    assert "Your platform administrator requires approval for every switch-on" in settings_section

    assert client_for(alice).post("/manage/organizations/acme/approvals/", {"reason": "x"}).status_code == 403
