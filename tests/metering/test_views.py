"""The usage page (owners, admins, billing), the finance dashboard and the
corrections form (platform finance), and their CSV exports.

The usage and finance pages share their data set and exports, so their tests
share one module.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metering import csv_export
from metering.models import EventKind, UsageEvent
from portal.models import AuditEntry, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.html import text
from tests.metering.usage_data import NOW, record

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    """The pages' "now": 10 November 2026, noon UTC (9.5 of November's 30 days)."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def rows_of(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def dan(acme):
    """Dan is an admin of acme."""
    user = UserFactory(email="dan@acme.test", full_name="Dan Diaz")
    MembershipFactory(user=user, organization=acme, role=Role.ADMIN)
    return user


# --- who may see the usage page ------------------------------------------------------


@pytest.mark.parametrize("person", ["alice", "carol", "dan"])
def test_owners_admins_and_billing_see_usage(client_for, cast, dan, person):
    people = {**cast, "dan": dan}
    response = client_for(people[person]).get("/usage/")
    assert response.status_code == 200
    assert 'href="/usage/"' in response.content.decode()  # in the sidebar


def test_members_get_403_and_no_usage_link(client_for, bob, alice):
    client = client_for(bob)
    assert client.get("/usage/").status_code == 403
    assert client.get("/usage/export.csv").status_code == 403
    assert 'href="/usage/"' not in client.get("/").content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/usage/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_gina_sees_only_globex(client_for, alice, gina, acme, globex):
    record(acme, 10_000)  # $100.00
    record(globex, 250)  # $2.50

    page = text(client_for(gina).get("/usage/"))

    assert "What Globex used" in page
    assert "$2.50" in page
    assert "$100.00" not in page
    rows = rows_of(client_for(gina).get("/usage/export.csv"))
    assert [row["quantity"] for row in rows] == ["250"]


# --- what the usage page shows ------------------------------------------------------------


def test_the_usage_page_shows_the_period_its_costs_and_the_projection(client_for, alice, acme):
    record(acme, 123, at=datetime(2026, 11, 2, 9, tzinfo=UTC))  # $1.23
    record(
        acme, 7, capability="summaries", meter="summaries", at=datetime(2026, 11, 9, 9, tzinfo=UTC)
    )  # $0.35
    record(acme, 999, at=datetime(2026, 10, 20, tzinfo=UTC))  # last period

    page = text(client_for(alice).get("/usage/"))

    assert "This month: 1 Nov 2026 \N{EN DASH} 30 Nov 2026 (UTC)" in page
    assert '<div class="value" id="range-cost">$1.58</div>' in page
    assert '<div class="value" id="period-cost">$1.58</div>' in page
    # $1.58 after 9.5 of 30 days: 1.58 / (9.5 / 30) = $4.99 (4.98947…)
    assert '<div class="value" id="projected-cost">$4.99</div>' in page
    assert "(9.5 of 30 days" in page
    assert "Text recognition" in page and "<code>pages</code>" in page
    assert '<td class="num">123</td>' in page
    assert '<td class="num">$0.01</td>' in page  # unit price
    assert '<td class="num">$1.23</td>' in page
    assert '<td class="num">$0.35</td>' in page


def test_a_range_shows_its_usage_and_still_the_period_projection(client_for, alice, acme):
    record(acme, 100, at=NOW - timedelta(hours=2))  # $1.00, in the last 24 hours
    record(acme, 400, at=NOW - timedelta(days=3))  # $4.00, this week

    client = client_for(alice)
    day = text(client.get("/usage/?range=day"))
    week = text(client.get("/usage/?range=week"))

    assert "Last 24 hours: 9 Nov 2026 13:00 \N{EN DASH} 10 Nov 2026 13:00 UTC" in day
    assert 'id="range-cost">$1.00<' in day
    assert 'id="period-cost">$5.00<' in day
    assert 'id="range-cost">$5.00<' in week
    assert "per hour, by capability" in day and "per day, by capability" in week


def test_a_custom_range(client_for, alice, acme):
    record(acme, 100, at=datetime(2026, 10, 30, 10, tzinfo=UTC))
    record(acme, 50, at=datetime(2026, 11, 2, 10, tzinfo=UTC))
    record(acme, 1, at=datetime(2026, 11, 3, 10, tzinfo=UTC))

    page = text(client_for(alice).get("/usage/?range=custom&start=2026-10-30&end=2026-11-02"))

    assert "Custom: 30 Oct 2026 \N{EN DASH} 2 Nov 2026" in page
    assert 'id="range-cost">$1.50<' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("range=custom&start=2026-11-05", "Choose both the first and the last day"),
        ("start=2026-11-05&end=2026-11-01", "The first day must not be after the last day."),
        ("start=2025-01-01&end=2026-11-01", "Choose at most 366 days."),
        ("range=custom&start=yesterday&end=2026-11-01", "Enter days as YYYY-MM-DD."),
    ],
)
def test_a_bad_range_says_why_and_shows_this_month(client_for, alice, acme, query, message):
    record(acme, 100)
    page = text(client_for(alice).get(f"/usage/?{query}"))
    assert message in page
    assert "Showing this month instead." in page
    assert 'id="range-cost">$1.00<' in page


def test_htmx_gets_only_the_panels(client_for, alice, acme):
    record(acme, 100)
    response = client_for(alice).get("/usage/?range=week", headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="usage-panels">')
    assert "<html" not in body


def test_the_chart_is_inline_svg_without_inline_styles(client_for, alice, acme):
    record(acme, 100, at=datetime(2026, 11, 3, 10, tzinfo=UTC))
    record(acme, 2, capability="summaries", meter="summaries", at=datetime(2026, 11, 3, 11, tzinfo=UTC))

    page = client_for(alice).get("/usage/").content.decode()

    assert '<svg class="chart"' in page
    assert page.count('<rect class="chart-s') == 2 + 2  # two segments, two legend swatches
    assert "<title>Nov 3 · Text recognition: $1.00</title>" in page
    assert "style=" not in page
    assert "<script" not in page.split("</head>")[1]


def test_without_usage_the_page_says_where_usage_comes_from(client_for, alice):
    page = text(client_for(alice).get("/usage/"))
    assert "No usage in this range" in page
    assert "as your organization's capabilities run jobs" in page
    assert 'id="projected-cost">$0.00<' in page
    assert '<svg class="chart"' not in page


def test_the_usage_page_costs_the_same_queries_whatever_the_usage(client_for, alice, acme):
    client = client_for(alice)
    client.get("/usage/")  # warm up: the session, the toggle snapshot

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    record(acme, 1)
    few = {url: count(url) for url in ("/usage/", "/usage/?range=week", "/usage/export.csv")}
    for n in range(40):
        record(acme, n + 1, at=NOW - timedelta(days=n % 9, hours=n % 5))
        record(acme, 1, capability="summaries", meter="summaries", at=NOW - timedelta(days=n % 7))
        record(acme, 3, meter="compute_seconds", at=NOW - timedelta(hours=n))

    many = {url: count(url) for url in few}
    assert many == few
    # usage by meter, the period so far (another range only) and the chart: one query each.
    with CaptureQueriesContext(connection) as captured:
        client.get("/usage/?range=week")
    usage_queries = [q["sql"] for q in captured if "metering_usagerollup" in q["sql"]]
    assert len(usage_queries) == 3
    assert all("GROUP BY" in sql for sql in usage_queries)
    assert not [q for q in captured if "metering_usageevent" in q["sql"]]


# --- the usage CSV ------------------------------------------------------------------------------


def test_the_csv_has_a_row_per_day_capability_and_meter_with_exact_costs(client_for, carol, acme):
    record(acme, 123, at=datetime(2026, 11, 2, 9, tzinfo=UTC))
    record(acme, 7, at=datetime(2026, 11, 2, 17, tzinfo=UTC))
    record(acme, 3, capability="summaries", meter="summaries", at=datetime(2026, 11, 4, 9, tzinfo=UTC))
    record(acme, -5, at=datetime(2026, 11, 4, 9, tzinfo=UTC), kind="correction", reason="refund")

    response = client_for(carol).get("/usage/export.csv")

    assert response["Content-Disposition"] == 'attachment; filename="usage-acme-2026-11-01-2026-11-30.csv"'
    assert [tuple(row.values()) for row in rows_of(response)] == [
        ("2026-11-02", "ocr", "Text recognition", "pages", "page", "130", "0.010", "1.300", "usd"),
        ("2026-11-04", "ocr", "Text recognition", "pages", "page", "-5", "0.010", "-0.050", "usd"),
        ("2026-11-04", "summaries", "Summaries", "summaries", "summary", "3", "0.05", "0.15", "usd"),
    ]


def test_the_csv_follows_the_range(client_for, alice, acme):
    record(acme, 4, at=NOW - timedelta(hours=3))
    record(acme, 9, at=NOW - timedelta(days=3))

    rows = rows_of(client_for(alice).get("/usage/export.csv?range=day"))

    assert [(row["period"], row["quantity"]) for row in rows] == [("2026-11-10T09:00Z", "4")]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Acme", "Acme"),
        (-5, "-5"),
        (None, ""),
    ],
)
def test_cells_that_a_spreadsheet_would_evaluate_are_neutralised(cell, written):
    assert csv_export.neutralise(cell) == written


# --- finance dashboard ----------------------------------------------------------------------------


@pytest.mark.parametrize("person", ["alice", "bob", "carol", "gina", "ivan"])
@pytest.mark.parametrize("url", ["/finance/", "/finance/export.csv", "/finance/corrections/"])
def test_only_platform_finance_opens_finance_pages(client_for, cast, person, url):
    assert client_for(cast[person]).get(url).status_code == 403


def test_finance_links_only_for_finance(client_for, fiona, ivan):
    assert 'href="/finance/"' in client_for(fiona).get("/finance/").content.decode()
    assert 'href="/finance/"' not in client_for(ivan).get("/manage/").content.decode()


@pytest.fixture
def platform(acme, globex):
    """Three organizations' usage in November (and some in October)."""
    initech = OrganizationFactory(name="Initech", slug="initech")
    record(acme, 100, at=datetime(2026, 11, 2, 9, tzinfo=UTC))  # $1.00
    record(
        acme, 4, capability="summaries", meter="summaries", at=datetime(2026, 11, 3, 9, tzinfo=UTC)
    )  # $0.20
    record(globex, 700, at=datetime(2026, 11, 3, 9, tzinfo=UTC))  # $7.00
    record(initech, 30, at=datetime(2026, 11, 9, 9, tzinfo=UTC))  # $0.30
    record(initech, 90, meter="compute_seconds", at=datetime(2026, 11, 9, 9, tzinfo=UTC))  # free
    record(acme, 5000, at=datetime(2026, 10, 15, tzinfo=UTC))  # October
    return {"acme": acme, "globex": globex, "initech": initech}


def test_the_finance_dashboard_shows_revenue_across_organizations(client_for, fiona, platform):
    page = text(client_for(fiona).get("/finance/"))

    assert 'id="revenue">$8.50<' in page
    assert 'Organizations with usage</div><div class="value">3<' in page
    top = page.split('id="top-organizations">')[1].split("</ol>")[0]
    assert top.index("Globex") < top.index("Acme Corp") < top.index("Initech")
    assert "$7.00" in top and "$1.20" in top and "$0.30" in top
    assert '<svg class="chart"' in page
    assert "style=" not in page


def test_finance_filters(client_for, fiona, platform):
    client = client_for(fiona)

    assert 'id="revenue">$0.20<' in text(client.get("/finance/?capability=summaries"))
    assert 'id="revenue">$0.00<' in text(client.get("/finance/?meter=compute_seconds"))
    by_org = text(client.get("/finance/?organization=glob"))
    assert 'id="revenue">$7.00<' in by_org
    assert "Initech" not in by_org.split('id="finance-panels"')[1]
    october = text(client.get("/finance/?range=custom&start=2026-10-01&end=2026-10-31"))
    assert 'id="revenue">$50.00<' in october


def test_the_organization_table_sorts_by_its_columns(client_for, fiona, platform):
    client = client_for(fiona)

    def organizations(sort: str) -> list[str]:
        page = client.get(f"/finance/?sort={sort}").content.decode()
        table = page.split("By organization, capability and meter")[1]
        return re.findall(r"<td >([a-z]+)</td>", table)

    assert organizations("-revenue")[:3] == ["globex", "acme", "initech"]
    assert organizations("quantity")[:2] == ["acme", "initech"]  # 4 summaries, 30 pages
    assert organizations("slug")[0] == "acme"


def test_finance_htmx_returns_the_panels(client_for, fiona, platform):
    body = client_for(fiona).get("/finance/?capability=ocr", headers=HTMX).content.decode()
    assert body.lstrip().startswith('<div id="finance-panels">')


def test_the_finance_csv(client_for, fiona, platform):
    evil = platform["initech"]
    evil.name = '=HYPERLINK("http://evil.test","Initech")'
    evil.save()

    response = client_for(fiona).get("/finance/export.csv?meter=pages")

    assert response["Content-Disposition"] == 'attachment; filename="finance-usage-2026-11-01-2026-11-30.csv"'
    rows = rows_of(response)
    assert [(row["organization"], row["quantity"], row["revenue"]) for row in rows] == [
        ("globex", "700", "7.000"),
        ("acme", "100", "1.000"),
        ("initech", "30", "0.300"),
    ]
    assert rows[2]["organization_name"] == '\'=HYPERLINK("http://evil.test","Initech")'
    assert {(row["start"], row["end"]) for row in rows} == {("2026-11-01", "2026-11-30")}


def test_the_finance_dashboard_costs_the_same_queries_for_3_or_40_organizations(client_for, fiona, platform):
    client = client_for(fiona)
    client.get("/finance/")

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    urls = ("/finance/", "/finance/?organization=a&capability=ocr", "/finance/export.csv")
    few = {url: count(url) for url in urls}
    for n in range(37):
        organization = OrganizationFactory(name=f"Tenant {n}", slug=f"tenant-{n}")
        record(organization, n + 1, at=NOW - timedelta(days=n % 9))
        record(organization, 2, capability="summaries", meter="summaries", at=NOW - timedelta(hours=n))
    assert {url: count(url) for url in urls} == few

    with CaptureQueriesContext(connection) as captured:
        client.get("/finance/")
    rollup_queries = [q["sql"] for q in captured if "rollup" in q["sql"]]
    # From the monthly rollup of the billing period: revenue per organization (the
    # top ten and the count), and the table's page and row count, priced and ranked
    # in the database; the chart's and the by-meter panel's live days from the
    # daily rollup (built days come from the platform table).
    assert len(rollup_queries) == 4
    assert sum("metering_usagemonthlyrollup" in sql for sql in rollup_queries) == 3
    assert sum("metering_usagedailyrollup" in sql for sql in rollup_queries) == 1
    assert any(sql.rstrip().endswith("LIMIT 50") for sql in rollup_queries)
    assert not [q for q in captured if "metering_usageevent" in q["sql"]]


# --- corrections -------------------------------------------------------------------------------------


def correction(**fields) -> dict[str, str]:
    return {
        "organization": "acme",
        "meter": "ocr.pages",
        "quantity": "-30",
        "reason": "Duplicate upload",
        **fields,
    }


def test_finance_records_a_correction(client_for, fiona, acme, alice):
    record(acme, 100)
    client = client_for(fiona)

    response = client.post("/finance/corrections/", correction(), follow=True)

    assert response.status_code == 200
    page = text(response)
    assert "Correction of -30 ocr.pages recorded for Acme Corp." in page
    event = UsageEvent.objects.get(kind=EventKind.CORRECTION)
    assert (event.organization, event.quantity, event.reason, event.created_by) == (
        acme,
        -30,
        "Duplicate upload",
        fiona,
    )
    assert event.occurred_at == NOW
    assert AuditEntry.objects.filter(action="usage.corrected", organization=acme).exists()
    assert "<td >Duplicate upload</td>" in page or "Duplicate upload" in page.split("Recent corrections")[1]
    # The usage page counts it.
    assert 'id="range-cost">$0.70<' in text(client_for(alice).get("/usage/"))


def test_a_correction_can_apply_to_an_earlier_day(client_for, fiona, acme):
    client_for(fiona).post("/finance/corrections/", correction(applies_to="2026-10-31", quantity="12"))
    event = UsageEvent.objects.get(kind=EventKind.CORRECTION)
    assert event.occurred_at == datetime(2026, 10, 31, 12, tzinfo=UTC)
    assert event.quantity == 12


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity": "0"}, "A correction of zero changes nothing"),
        ({"quantity": "1.5"}, "Enter a whole number."),
        ({"quantity": ""}, "This field is required."),
        ({"organization": "nobody"}, "No organization has the slug “nobody”."),
        ({"meter": "ocr.widgets"}, "Select a valid choice."),
        ({"reason": "   "}, "This field is required."),
        ({"applies_to": "2026-11-11"}, "A correction cannot apply to a day in the future."),
    ],
)
def test_bad_corrections_say_why(client_for, fiona, acme, fields, message):
    response = client_for(fiona).post("/finance/corrections/", correction(**fields))

    assert response.status_code == 400
    assert message in text(response)
    assert not UsageEvent.objects.filter(kind=EventKind.CORRECTION).exists()


def test_it_admins_cannot_correct_usage(client_for, ivan, acme):
    assert client_for(ivan).post("/finance/corrections/", correction()).status_code == 403
    assert not UsageEvent.objects.exists()


def test_the_corrections_list_costs_the_same_queries_whatever_its_length(client_for, fiona, acme, globex):
    client = client_for(fiona)
    client.post("/finance/corrections/", correction())
    client.get("/finance/corrections/")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/finance/corrections/").status_code == 200
        return len(captured)

    few = count()
    for n in range(12):
        client.post(
            "/finance/corrections/",
            correction(organization="globex" if n % 2 else "acme", quantity=str(n + 1)),
        )
    assert count() == few
