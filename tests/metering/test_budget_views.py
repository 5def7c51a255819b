"""Budgets on /usage/: owners, admins and billing members see each budget with
its figures and set, change and remove them (htmx swaps the section, errors
inline); a platform cap shows locked with its reason; plain members never
reach the page; gina cannot touch acme's budgets."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from metering import actions
from metering.models import Budget
from tests.metering.usage_data import record

HTMX = {"HX-Request": "true"}


def _new(**fields: str) -> dict[str, str]:
    values = {"capability": "", "amount": "50.00", "action": "stop", "thresholds": "50, 80, 100"}
    values.update(fields)
    return {f"new-{name}": value for name, value in values.items()}


def _change(budget: Budget, **fields: str) -> dict[str, str]:
    values = {
        "capability": budget.capability or "",
        "amount": str(budget.amount),
        "action": budget.action,
        "thresholds": ", ".join(str(level) for level in budget.thresholds),
    }
    values.update(fields)
    return {f"budget-{budget.pk}-{name}": value for name, value in values.items()}


def test_the_empty_state_says_what_a_budget_does(client_for, alice):
    body = client_for(alice).get("/usage/").content.decode()
    assert "No budget yet" in body
    assert "Set one so that spending stops at a limit you choose." in body
    assert 'action="/usage/budgets/"' in body


def test_carol_sets_a_budget_with_htmx_and_sees_its_bar(client_for, carol, acme):
    record(acme, 30, at=timezone.now())  # $0.30 of Text recognition
    response = client_for(carol).post("/usage/budgets/", _new(capability="ocr", amount="0.40"), headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card budgets" id="budgets">')
    assert "Budget for Text recognition set." in body
    assert '<rect class="budget-bar-spent" x="0" y="0" width="75" height="10">' in body
    assert "$0.30</strong> spent" in body and "$0.10 left" in body
    assert "50 % alert sent" in body
    budget = Budget.objects.get()
    assert (budget.capability, budget.amount, budget.thresholds) == ("ocr", Decimal("0.40"), [50, 80, 100])


def test_a_plain_form_post_goes_back_to_the_page(client_for, alice):
    response = client_for(alice).post("/usage/budgets/", _new(amount="12.50"))
    assert response.status_code == 302
    assert response["Location"] == "/usage/#budgets"
    assert Budget.objects.get().amount == Decimal("12.50")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "-3"}, "The limit cannot be negative."),
        ({"amount": "lots"}, "Enter the limit as a number, such as 50.00."),
        ({"amount": "1.234"}, "Use at most two decimals, such as 12.50."),
        ({"thresholds": "50, 120"}, "&#x27;120&#x27; is not a whole percent from 1 to 100"),
        ({"capability": "teleport"}, "Select a valid choice. teleport is not one of the available choices."),
    ],
)
def test_bad_input_is_answered_next_to_the_field(client_for, alice, fields, message):
    client = client_for(alice)
    swapped = client.post("/usage/budgets/", _new(**fields), headers=HTMX)
    assert swapped.status_code == 200
    assert message in swapped.content.decode()
    assert '<details class="budget-add" open>' in swapped.content.decode()
    page = client.post("/usage/budgets/", _new(**fields))
    assert page.status_code == 400
    assert message in page.content.decode()
    assert not Budget.objects.exists()


def test_a_second_budget_of_a_scope_is_refused_in_words(client_for, alice, acme):
    actions.save_budget(alice, acme, capability=None, amount=Decimal("10"))
    body = client_for(alice).post("/usage/budgets/", _new(amount="20"), headers=HTMX).content.decode()
    assert "Acme Corp already has a budget for all capabilities; change that one." in body
    assert Budget.objects.get().amount == Decimal("10.00")


def test_alice_changes_and_removes_a_budget(client_for, alice, acme):
    budget = actions.save_budget(alice, acme, capability="ocr", amount=Decimal("10"))
    client = client_for(alice)
    body = client.post(
        f"/usage/budgets/{budget.pk}/", _change(budget, amount="25", action="alert"), headers=HTMX
    ).content.decode()
    assert "Budget for Text recognition changed." in body
    budget.refresh_from_db()
    assert (budget.amount, budget.action) == (Decimal("25.00"), "alert")

    failed = client.post(f"/usage/budgets/{budget.pk}/", _change(budget, amount="-1"), headers=HTMX)
    assert '<details class="budget-edit" open>' in failed.content.decode()
    assert "The limit cannot be negative." in failed.content.decode()

    removed = client.post(f"/usage/budgets/{budget.pk}/delete/", headers=HTMX).content.decode()
    assert "Budget for Text recognition removed" in removed
    assert "No budget yet" in removed
    assert not Budget.objects.exists()


def test_a_platform_cap_shows_locked_with_its_reason_and_no_form(client_for, alice, acme, fiona):
    cap = actions.save_budget(
        fiona, acme, capability=None, amount=Decimal("100"), platform=True, reason="Invoices overdue"
    )
    client = client_for(alice)
    body = client.get("/usage/").content.decode()
    assert "Locked platform cap" in body
    assert "Set by Switchboard's finance team: “Invoices overdue”" in body
    assert f'action="/usage/budgets/{cap.pk}/"' not in body
    # Posting anyway changes nothing.
    client.post(f"/usage/budgets/{cap.pk}/", _change(cap, amount="1000"), headers=HTMX)
    refused = client.post(f"/usage/budgets/{cap.pk}/delete/", headers=HTMX).content.decode()
    assert "your organization cannot remove it" in refused
    cap.refresh_from_db()
    assert cap.amount == Decimal("100.00")


def test_a_stopped_budget_says_so(client_for, alice, acme):
    record(acme, 50, at=timezone.now())  # $0.50
    actions.save_budget(alice, acme, capability="ocr", amount=Decimal("0.50"))
    body = client_for(alice).get("/usage/").content.decode()
    assert "Stopped: new jobs are refused" in body
    assert 'class="budget budget-stopped"' in body


def test_plain_members_never_see_budgets(client_for, bob, alice, acme):
    budget = actions.save_budget(alice, acme, capability=None, amount=Decimal("10"))
    client = client_for(bob)
    assert client.get("/usage/").status_code == 403
    assert client.post("/usage/budgets/", _new(capability="ocr")).status_code == 403
    assert client.post(f"/usage/budgets/{budget.pk}/delete/").status_code == 403
    assert Budget.objects.count() == 1


def test_gina_cannot_touch_acmes_budget(client_for, alice, acme, gina):
    budget = actions.save_budget(alice, acme, capability=None, amount=Decimal("10"))
    client = client_for(gina)
    assert client.post(f"/usage/budgets/{budget.pk}/", _change(budget, amount="1")).status_code == 404
    assert client.post(f"/usage/budgets/{budget.pk}/delete/").status_code == 404
    budget.refresh_from_db()
    assert budget.amount == Decimal("10.00")


def test_the_page_costs_the_same_queries_whatever_the_number_of_budgets(
    client_for, alice, acme, django_assert_max_num_queries
):
    client = client_for(alice)
    actions.save_budget(alice, acme, capability=None, amount=Decimal("10"))
    with django_assert_max_num_queries(40) as few:
        client.get("/usage/")
    for capability in ("ocr", "summaries", "glossary"):
        actions.save_budget(alice, acme, capability=capability, amount=Decimal("10"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/usage/")
