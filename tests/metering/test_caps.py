"""Platform caps: IT admins (on the tenant's page under /manage/) and finance
(there and from /finance/) set, change and remove a cap with a reason; the
organization sees it locked; finance's dashboard lists the organizations at or
over a budget in a number of queries that does not grow with them."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from metering import actions
from metering.models import Budget
from metering.queries.budgets import budgets_at_risk
from portal.models import AuditEntry
from tests.factories import OrganizationFactory
from tests.metering.usage_data import record

HTMX = {"HX-Request": "true"}


def _cap(**fields: str) -> dict[str, str]:
    values = {"capability": "", "amount": "100.00", "action": "stop", "thresholds": "80, 100"}
    values.update(fields)
    return {f"cap-{name}": value for name, value in values.items()}


def test_the_tenant_page_loads_its_caps_section(client_for, ivan, acme):
    page = client_for(ivan).get("/manage/organizations/acme/").content.decode()
    assert 'hx-get="/manage/organizations/acme/caps/"' in page
    section = client_for(ivan).get("/manage/organizations/acme/caps/", headers=HTMX).content.decode()
    assert section.lstrip().startswith('<section class="card budgets" id="caps">')
    assert "No platform cap: Acme Corp spends within its own budgets only." in section


def test_ivan_sets_changes_and_removes_a_cap_with_a_reason(client_for, ivan, acme, alice):
    client = client_for(ivan)
    url = "/manage/organizations/acme/caps/"
    missing = client.post(url, _cap(), headers=HTMX).content.decode()
    assert "Say why the cap is set: the organization sees the reason." in missing
    assert not Budget.objects.exists()

    body = client.post(url, _cap(reason="Card declined twice"), headers=HTMX).content.decode()
    assert "Platform cap for all capabilities set on Acme Corp." in body
    assert "Reason shown to Acme Corp: “Card declined twice”" in body
    cap = Budget.objects.get()
    assert (cap.platform, cap.amount, cap.reason, cap.thresholds) == (
        True,
        Decimal("100.00"),
        "Card declined twice",
        [80, 100],
    )

    changed = {f"cap-{cap.pk}-{key[4:]}": value for key, value in _cap(amount="250", reason="Paid").items()}
    client.post(f"{url}{cap.pk}/", changed, headers=HTMX)
    cap.refresh_from_db()
    assert (cap.amount, cap.reason) == (Decimal("250.00"), "Paid")

    # Alice sees it locked on /usage/.
    usage = client_for(alice).get("/usage/").content.decode()
    assert "Locked platform cap" in usage and "“Paid”" in usage

    client.post(f"{url}{cap.pk}/delete/", headers=HTMX)
    assert not Budget.objects.exists()
    assert list(
        AuditEntry.objects.filter(action__startswith="budget.").order_by("pk").values_list("action", "actor")
    ) == [("budget.created", ivan.pk), ("budget.changed", ivan.pk), ("budget.deleted", ivan.pk)]


def test_a_plain_post_goes_back_to_the_tenant_page(client_for, fiona, acme):
    response = client_for(fiona).post("/manage/organizations/acme/caps/", _cap(reason="Trial account"))
    assert response.status_code == 302
    assert response["Location"] == "/manage/organizations/acme/#caps"
    failed = client_for(fiona).post("/manage/organizations/acme/caps/", _cap(amount="-1", reason="x"))
    assert failed.status_code == 400
    assert "The limit cannot be negative." in failed.content.decode()


def test_an_organizations_own_budget_is_not_a_cap(client_for, ivan, alice, acme):
    own = actions.save_budget(alice, acme, capability=None, amount=Decimal("10"))
    client = client_for(ivan)
    assert client.post(f"/manage/organizations/acme/caps/{own.pk}/delete/").status_code == 404
    assert Budget.objects.filter(pk=own.pk).exists()


def test_organization_people_cannot_reach_caps(client_for, alice, carol, acme):
    for person in (alice, carol):
        client = client_for(person)
        assert client.get("/manage/organizations/acme/caps/").status_code == 403
        assert client.post("/manage/organizations/acme/caps/", _cap(reason="mine")).status_code == 403
        assert (
            client.post("/finance/caps/", {"cap-organization": "acme", **_cap(reason="x")}).status_code == 403
        )
    assert not Budget.objects.exists()


def test_finance_sets_a_cap_from_the_finance_pages(client_for, fiona, acme):
    client = client_for(fiona)
    form = client.get("/finance/caps/").content.decode()
    assert "Choose an organization" in form
    response = client.post("/finance/caps/", {"cap-organization": "acme", **_cap(reason="Unpaid invoices")})
    assert response.status_code == 302
    assert response["Location"] == "/finance/#budgets"
    cap = Budget.objects.get()
    assert (cap.organization, cap.platform, cap.reason) == (acme, True, "Unpaid invoices")
    dashboard = client.get("/finance/").content.decode()
    assert "Unpaid invoices" in dashboard and 'id="platform-caps"' in dashboard

    again = client.post("/finance/caps/", {"cap-organization": "acme", **_cap(reason="Again")})
    assert again.status_code == 400
    assert "Acme Corp already has a platform cap for all capabilities" in again.content.decode()


def test_finance_sees_the_organizations_at_or_over_a_budget(client_for, fiona, alice, acme, gina, globex):
    now = timezone.now()
    record(acme, 90, at=now)  # $0.90
    record(globex, 10, at=now)  # $0.10
    actions.save_budget(alice, acme, capability="ocr", amount=Decimal("1.00"))  # 90 %: near
    actions.save_budget(alice, acme, capability="summaries", amount=Decimal("1.00"))  # 0 %
    actions.save_budget(gina, globex, capability=None, amount=Decimal("0.10"))  # 100 %: stopped
    rows = budgets_at_risk()
    assert [(row.organization_slug, row.percent, row.stopped) for row in rows] == [
        ("globex", 100, True),
        ("acme", 90, False),
    ]
    body = client_for(fiona).get("/finance/").content.decode()
    assert 'id="budgets-at-risk"' in body
    assert "Stopped" in body and "Near the limit" in body


def test_the_list_of_budgets_at_risk_is_one_query(alice, acme, django_assert_num_queries):
    now = timezone.now()
    for n in range(6):
        organization = acme if n == 0 else OrganizationFactory(slug=f"org-{n}")
        record(organization, 50, at=now)
        actions.save_budget(alice, organization, capability=None, amount=Decimal("0.50"))
    with django_assert_num_queries(1):
        rows = budgets_at_risk()
    assert len(rows) == 6
