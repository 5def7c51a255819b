"""The reconciliation API (/api/v1/billing/reconciliations/): platform finance
reads runs newest first, and one run with its lines (paginated, filtered by
status); organization people, IT admins and organization API keys get 403
finance_required; anonymous callers 401. Both routes are in the schema."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing import reconcile
from billing.models import ReconciliationLine, ReconciliationRun
from metering.periods import billing_period
from portal.actions.api_keys import create_api_key
from tests.billing.conftest import MANY, many_lines, many_runs
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/billing/reconciliations/"
Status = ReconciliationLine.Status
Action = ReconciliationLine.Action


def detail_url(run: ReconciliationRun) -> str:
    return f"/api/v1/billing/reconciliations/{run.pk}"


def key_client(user, organization) -> Client:
    """A client that authenticates with an organization API key only (no session)."""
    _, secret = create_api_key(user, organization, name="reporting", scope="manage")
    return Client(headers={"Authorization": f"Api-Key {secret}"})


def make_run(triggered_by=None, *, minutes_ago: int = 0, **fields) -> ReconciliationRun:
    run = reconcile.start_run(triggered_by, billing_period(timezone.now()).start)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago), **fields
    )
    run.refresh_from_db()
    return run


def line(run, organization, day: date, status: str, local: int, stripe: int, **fields) -> ReconciliationLine:
    return ReconciliationLine.objects.create(
        run=run,
        organization=organization,
        capability="ocr",
        meter="pages",
        day=day,
        local_quantity=local,
        stripe_quantity=stripe,
        status=status,
        **fields,
    )


@pytest.fixture
def finished(fiona, acme, globex) -> ReconciliationRun:
    """A done run of the current period with five lines over two organizations."""
    run = make_run(
        fiona,
        status=ReconciliationRun.Status.DONE,
        progress_done=4,
        progress_total=4,
        api_calls=4,
        matched=3,
        missing=1,
        excess=1,
    )
    first = run.period_start.date()
    second = first + timedelta(days=1)
    line(run, acme, first, Status.MATCHED, 10, 10)
    line(run, globex, first, Status.MATCHED, 5, 5)
    line(
        run,
        acme,
        second,
        Status.MISSING,
        42,
        12,
        action=Action.REPUSHED,
        detail="Re-pushed 30 unit(s) as x:0",
    )
    line(run, globex, second, Status.EXCESS, 5, 9, action=Action.CANCELLED, detail="cancelled y:1")
    line(run, acme, second + timedelta(days=1), Status.MATCHED, 1, 1)
    return run


# --- finance reads the runs and their lines -----------------------------------------------------


def test_finance_lists_the_runs_newest_first(client_for, fiona):
    oldest = make_run(None, minutes_ago=90)
    newest = make_run(fiona, minutes_ago=1)
    middle = make_run(None, minutes_ago=30, status=ReconciliationRun.Status.DONE)

    response = client_for(fiona).get(RUNS)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [run["id"] for run in body["results"]] == [newest.pk, middle.pk, oldest.pk]
    first = body["results"][0]
    assert first["triggered_by"] == "fiona@switchboard.test"
    assert body["results"][1]["triggered_by"] is None  # the daily schedule
    assert first["status"] == "queued" and body["results"][1]["status"] == "done"
    assert body["results"][1]["percent"] == 100  # done with nothing to check
    assert first["percent"] == 0
    assert set(first) == {
        "id",
        "period_start",
        "period_end",
        "checked_until",
        "status",
        "triggered_by",
        "created_at",
        "started_at",
        "finished_at",
        "progress_done",
        "progress_total",
        "percent",
        "api_calls",
        "error",
        "matched",
        "missing",
        "excess",
        "unexplained",
        "settling",
        "unavailable",
    }


def test_no_runs_is_an_empty_list(client_for, fiona):
    body = client_for(fiona).get(RUNS).json()
    assert (body["count"], body["results"]) == (0, [])


def test_finance_reads_a_run_with_its_lines(client_for, fiona, finished, acme, globex):
    response = client_for(fiona).get(detail_url(finished))
    assert response.status_code == 200
    body = response.json()
    assert body["run"]["id"] == finished.pk
    assert (body["run"]["matched"], body["run"]["missing"], body["run"]["excess"]) == (3, 1, 1)
    assert body["run"]["percent"] == 100
    assert (body["count"], body["next"], body["previous"]) == (5, None, None)
    first = finished.period_start.date()
    assert [(row["day"], row["organization"], row["status"]) for row in body["lines"]] == [
        (first.isoformat(), "acme", "matched"),
        (first.isoformat(), "globex", "matched"),
        ((first + timedelta(days=1)).isoformat(), "acme", "missing"),
        ((first + timedelta(days=1)).isoformat(), "globex", "excess"),
        ((first + timedelta(days=2)).isoformat(), "acme", "matched"),
    ]
    assert body["lines"][2] == {
        "day": (first + timedelta(days=1)).isoformat(),
        "organization": "acme",
        "capability": "ocr",
        "meter": "pages",
        "local_quantity": 42,
        "stripe_quantity": 12,
        "difference": -30,
        "status": "missing",
        "action": "repushed",
        "detail": "Re-pushed 30 unit(s) as x:0",
    }
    assert body["lines"][3]["difference"] == 4


def test_the_lines_are_paginated(client_for, fiona, finished):
    client = client_for(fiona)
    page_one = client.get(detail_url(finished), {"page_size": 2}).json()
    assert (page_one["count"], len(page_one["lines"]), page_one["previous"]) == (5, 2, None)
    assert "page=2" in page_one["next"] and "page_size=2" in page_one["next"]

    page_three = client.get(detail_url(finished), {"page_size": 2, "page": 3}).json()
    assert [row["organization"] for row in page_three["lines"]] == ["acme"]
    assert page_three["next"] is None and "page=2" in page_three["previous"]
    assert page_three["run"]["id"] == finished.pk  # the run comes with every page

    every_line = [
        row
        for page in (1, 2, 3)
        for row in client.get(detail_url(finished), {"page_size": 2, "page": page}).json()["lines"]
    ]
    assert every_line == client.get(detail_url(finished)).json()["lines"]

    beyond = client.get(detail_url(finished), {"page": 99})
    assert beyond.status_code == 404
    assert beyond.json()["code"] == "not_found"


def test_the_lines_filter_by_status(client_for, fiona, finished):
    client = client_for(fiona)
    missing = client.get(detail_url(finished), {"status": "missing"}).json()
    assert missing["count"] == 1
    assert [(row["organization"], row["status"]) for row in missing["lines"]] == [("acme", "missing")]
    matched = client.get(detail_url(finished), {"status": "matched"}).json()
    assert matched["count"] == 3 and {row["status"] for row in matched["lines"]} == {"matched"}
    settling = client.get(detail_url(finished), {"status": "settling"}).json()
    assert (settling["count"], settling["lines"]) == (0, [])
    # The run's counts are the whole run's, whatever the filter.
    assert missing["run"]["matched"] == 3


def test_a_bad_status_is_a_clear_400(client_for, fiona, finished):
    response = client_for(fiona).get(detail_url(finished), {"status": "lost"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"] == {
        "status": ["Choose one of matched, missing, excess, unexplained, settling, unavailable."]
    }


def test_an_unknown_run_is_404_for_finance(client_for, fiona):
    response = client_for(fiona).get("/api/v1/billing/reconciliations/999999")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_an_unknown_run_has_the_not_found_code(client_for, fiona):
    response = client_for(fiona).get("/api/v1/billing/reconciliations/999999")
    assert response.json()["code"] == "not_found"


def test_lines_of_another_run_are_not_mixed_in(client_for, fiona, finished, acme):
    other = make_run(None)
    line(other, acme, other.period_start.date(), Status.UNEXPLAINED, 0, 5, action=Action.REVIEW)
    body = client_for(fiona).get(detail_url(other)).json()
    assert [row["status"] for row in body["lines"]] == ["unexplained"]
    assert client_for(fiona).get(detail_url(finished)).json()["count"] == 5


# --- everyone else -------------------------------------------------------------------------


@pytest.mark.parametrize("person", ["alice", "bob", "carol", "gina", "ivan"])
def test_anyone_but_finance_gets_403_finance_required(client_for, cast, finished, person):
    client = client_for(cast[person])
    for url in (RUNS, detail_url(finished), "/api/v1/billing/reconciliations/999999"):
        response = client.get(url)
        assert response.status_code == 403, url
        body = response.json()
        assert body["code"] == "finance_required"
        assert body["detail"] == "Reconciliations are for Switchboard's finance team."
        assert "lines" not in body and "results" not in body


def test_an_organization_api_key_gets_403_finance_required(alice, acme, finished):
    client = key_client(alice, acme)
    for url in (RUNS, detail_url(finished), f"{detail_url(finished)}?status=missing"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert response.json()["code"] == "finance_required"


def test_anonymous_callers_are_refused(client, finished):
    for url in (RUNS, detail_url(finished)):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.json()["code"] == "not_authenticated"
        assert "results" not in response.json() and "lines" not in response.json()


def test_an_organization_with_a_formula_like_slug_is_returned_verbatim(client_for, fiona, finished):
    """JSON is not a spreadsheet: the API returns the slug as stored (the CSV
    export is what neutralises it)."""
    odd = OrganizationFactory(name="=1+1", slug="=1+1")
    line(finished, odd, finished.period_start.date(), Status.MATCHED, 1, 1)
    organizations = [
        row["organization"] for row in client_for(fiona).get(detail_url(finished)).json()["lines"]
    ]
    assert "=1+1" in organizations


# --- schema ------------------------------------------------------------------------------------


def test_the_schema_documents_both_routes(db):
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "get" in paths["/api/v1/billing/reconciliations/"]
    detail = paths["/api/v1/billing/reconciliations/{id}"]["get"]
    status = next(parameter for parameter in detail["parameters"] if parameter["name"] == "status")
    assert status["in"] == "query"
    assert set(status["schema"]["enum"]) == {
        "matched",
        "missing",
        "excess",
        "unexplained",
        "settling",
        "unavailable",
    }
    assert {"page", "page_size"} <= {parameter["name"] for parameter in detail["parameters"]}


def test_the_runs_and_a_run_cost_the_same_queries_whatever_the_rows(
    client_for, fiona, django_assert_max_num_queries
):
    runs = many_runs(fiona)
    many_lines(runs[0], OrganizationFactory.create_batch(3))
    client = client_for(fiona)
    with django_assert_max_num_queries(7):  # 5 today; a query per run would add 40
        listed = client.get("/api/v1/billing/reconciliations/")
    assert listed.status_code == 200
    with django_assert_max_num_queries(8):  # 6 today; a query per line would add 40
        detail = client.get(detail_url(runs[0]))
    assert detail.status_code == 200 and len(detail.json()["lines"]) == MANY
