"""Finance's reconciliation pages: the runs list, starting a run, one run with
its lines (filters, the htmx status partial) and its CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from billing import push, reconcile
from billing.models import ReconciliationLine, ReconciliationRun
from billing.tasks import run_reconciliation
from metering.periods import billing_period
from tests.billing.conftest import MANY, many_lines, many_runs
from tests.factories import OrganizationFactory
from tests.html import text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
Status = ReconciliationLine.Status
Action = ReconciliationLine.Action


# --- finance: reconciliation ------------------------------------------------------------------


def test_the_reconciliations_page_before_any_run(stripe, client_for, fiona):
    page = text(client_for(fiona).get("/finance/reconciliations/"))
    assert "No reconciliation has run yet." in page
    assert "Stripe is not configured" not in page
    current = billing_period(timezone.now()).start
    assert re.search(
        rf'<option value="{re.escape(current.isoformat())}"[^>]*>{current:%B %Y} \(current\)</option>', page
    )
    assert re.search(r'<button class="btn" type="submit"\s*>Reconcile now</button>', page)


def test_without_stripe_the_page_says_so_and_disables_the_button(settings, client_for, fiona):
    settings.STRIPE_SECRET_KEY = ""
    page = text(client_for(fiona).get("/finance/reconciliations/"))
    assert "Stripe is not configured (<code>STRIPE_SECRET_KEY</code>)" in page
    assert '<button class="btn" type="submit" disabled>Reconcile now</button>' in page


def test_without_stripe_a_run_cannot_end_as_done(settings, client_for, fiona, monkeypatch):
    settings.STRIPE_SECRET_KEY = ""
    monkeypatch.setattr(run_reconciliation, "delay", lambda run_id: None)
    client_for(fiona).post(
        "/finance/reconciliations/", {"period": billing_period(timezone.now()).start.isoformat()}
    )
    for run in ReconciliationRun.objects.all():  # refusing to start one is fine too
        assert reconcile.run(run.pk).status != ReconciliationRun.Status.DONE


def test_starting_a_run_queues_it_and_its_task_on_commit(
    stripe, client_for, fiona, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(run_reconciliation, "delay", queued.append)
    period = billing_period(timezone.now()).start
    client = client_for(fiona)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/finance/reconciliations/", {"period": period.isoformat()})

    run = ReconciliationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/finance/reconciliations/{run.pk}/"
    assert (run.status, run.period_start, run.triggered_by) == (
        ReconciliationRun.Status.QUEUED,
        period,
        fiona,
    )
    assert queued == []  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert queued == [run.pk]

    page = text(client.get(response["Location"]))
    assert f"Reconciliation #{run.pk} of {period:%B %Y} started." in page
    assert "Queued" in page


def test_a_run_started_on_demand_covers_usage_up_to_the_settling_delay_at_once(
    stripe, client_for, alice, acme, fiona, subscribed, record_usage, monkeypatch, hour_ago
):
    """Issue 13: a run just started said "Usage up to 1 Dec 2026 00:00 UTC" (the
    period's start) although there was settled usage that day: the cutoff is
    the settling delay's, from the moment finance asks, and the live status says it."""
    monkeypatch.setattr(run_reconciliation, "delay", lambda run_id: None)
    at = hour_ago(3)
    subscribed(alice, acme)
    record_usage(acme, 30, at=at)
    client = client_for(fiona)
    client.post("/finance/reconciliations/", {"period": billing_period(at).start.isoformat()})
    run = ReconciliationRun.objects.get()
    assert run.status == ReconciliationRun.Status.QUEUED
    assert run.checked_until > at  # the usage three hours ago is settled: it is covered
    assert run.checked_until == reconcile.cutoff(run.period_start, run.created_at)
    covered = f"Usage up to {run.checked_until:%-d %b %Y %H:%M} UTC"
    assert covered in text(client.get(f"/finance/reconciliations/{run.pk}/"))
    assert covered in text(client.get(f"/finance/reconciliations/{run.pk}/", headers=HTMX))


def test_the_previous_period_can_be_reconciled_but_no_other(stripe, client_for, fiona):
    current = billing_period(timezone.now()).start
    previous = billing_period(current - timedelta(days=1)).start
    client = client_for(fiona)
    assert client.post("/finance/reconciliations/", {"period": previous.isoformat()}).status_code == 302
    assert ReconciliationRun.objects.get().period_start == previous

    for bogus in ("2020-01-01T00:00:00+00:00", "", "soon"):
        response = client.post("/finance/reconciliations/", {"period": bogus})
        assert response.status_code == 200
        assert "Select a valid choice." in text(response) or "This field is required." in text(response)
    assert ReconciliationRun.objects.count() == 1


@pytest.fixture
def reconciled(
    stripe, client_for, alice, gina, acme, globex, fiona, subscribed, record_usage, monkeypatch, hour_ago
):
    """A finished run started from the page: globex's usage matched, acme's
    dropped by Stripe (missing, re-pushed)."""
    monkeypatch.setattr(run_reconciliation, "delay", lambda run_id: None)
    at = hour_ago(3)
    subscribed(gina, globex)
    record_usage(globex, 7, at=at)
    push.plan()
    assert push.send().sent == 1
    subscribed(alice, acme)
    record_usage(acme, 30, at=at)
    record_usage(acme, 12, at=at + timedelta(minutes=5))
    push.plan()
    stripe.config(drop_next_meter_events=1)  # Stripe answers 200 and loses acme's event
    assert push.send().sent == 1

    response = client_for(fiona).post(
        "/finance/reconciliations/", {"period": billing_period(at).start.isoformat()}
    )
    run = ReconciliationRun.objects.get()
    assert response["Location"] == f"/finance/reconciliations/{run.pk}/"
    run = reconcile.run(run.pk, now=timezone.now() + timedelta(hours=2))
    assert run.status == ReconciliationRun.Status.DONE
    return run


def line_rows(response) -> list[str]:
    markup = unescape(response.content.decode())
    body = markup[markup.index("<h2>Lines</h2>") :]
    body = body[body.index("<tbody") :]
    return [" ".join(row.split()) for row in re.findall(r"<tr\b[^>]*>.*?</tr>", body, flags=re.S)]


def test_a_finished_run_shows_its_lines_counts_and_full_progress(client_for, fiona, reconciled, acme, globex):
    run = reconciled
    response = client_for(fiona).get(f"/finance/reconciliations/{run.pk}/")
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    page = text(response)
    assert f"<h1>Reconciliation #{run.pk}: {run.period_start:%B %Y}</h1>" in page
    assert "by fiona@switchboard.test" in page
    assert '<progress id="run-progress" max="100" value="100"' in page
    assert f"Done · {run.progress_total} of {run.progress_total} organization-meters" in page
    assert run.progress_total >= 2  # two organizations, every priced meter
    counts = dict(re.findall(r'<div class="label">([^<]+)</div><div class="value">(\d+)</div>', page))
    assert counts == {
        "Matched": "1",
        "Missing in Stripe": "1",
        "Excess in Stripe": "0",
        "Unexplained": "0",
        "Settling": "0",
        "Stripe unavailable": "0",
    }
    assert 'hx-get="' not in page  # nothing to poll once done
    assert "Show the lines" not in page  # they are right here
    assert f'href="/finance/reconciliations/{run.pk}/export.csv"' in page

    rows = line_rows(response)
    [missing] = [row for row in rows if acme.name in row]
    [matched] = [row for row in rows if globex.name in row]
    assert "Missing in Stripe" in missing and "Re-pushed the difference" in missing
    assert re.search(r">42<.*>0<.*>-42<", missing)
    assert "Re-pushed 42 units" in missing
    assert "Matched" in matched and "None needed" in matched
    assert re.search(r">7<.*>7<.*>0<", matched)


def test_lines_filter_by_status_and_organization(client_for, fiona, reconciled, acme, globex):
    client = client_for(fiona)
    url = f"/finance/reconciliations/{reconciled.pk}/"

    missing = line_rows(client.get(url, {"status": Status.MISSING}))
    assert len(missing) == 1 and acme.name in missing[0]
    matched = line_rows(client.get(url, {"status": Status.MATCHED}))
    assert len(matched) == 1 and globex.name in matched[0]
    assert "No lines" in " ".join(line_rows(client.get(url, {"status": Status.EXCESS})))
    by_name = line_rows(client.get(url, {"organization": "glob"}))
    assert len(by_name) == 1 and globex.name in by_name[0]
    # The export link keeps the filter.
    page = text(client.get(url, {"status": Status.MISSING}))
    assert f'href="/finance/reconciliations/{reconciled.pk}/export.csv?status=missing"' in page


def test_the_htmx_partial_is_only_the_status_card(client_for, fiona, reconciled):
    response = client_for(fiona).get(f"/finance/reconciliations/{reconciled.pk}/", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    markup = response.content.decode().strip()
    assert markup.startswith('<section class="card" id="run-status"')
    assert markup.endswith("</section>")
    assert "<html" not in markup and "<h2>Lines</h2>" not in markup and "sidebar" not in markup
    assert 'value="100"' in markup
    assert "hx-get" not in markup and "hx-trigger" not in markup  # done: polling stops
    assert "Show the lines" in markup
    assert f'href="/finance/reconciliations/{reconciled.pk}/"' in markup


def test_a_running_run_keeps_polling(client_for, fiona):
    run = reconcile.start_run(fiona, billing_period(timezone.now()).start)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=ReconciliationRun.Status.RUNNING, progress_done=1, progress_total=4
    )
    url = f"/finance/reconciliations/{run.pk}/"
    markup = " ".join(client_for(fiona).get(url, headers=HTMX).content.decode().split())
    assert markup.startswith('<section class="card" id="run-status"')
    assert f'hx-get="{url}" hx-trigger="every 1s" hx-swap="outerHTML"' in markup
    assert 'value="25"' in markup
    assert "Running · 1 of 4 organization-meters" in markup
    assert "Show the lines" not in markup

    # The full page polls the same way.
    assert f'hx-get="{url}"' in text(client_for(fiona).get(url))


def test_a_failed_run_shows_its_error_and_stops_polling(client_for, fiona):
    run = reconcile.start_run(fiona, billing_period(timezone.now()).start)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=ReconciliationRun.Status.FAILED, error="Stripe: the emulator is down"
    )
    markup = text(client_for(fiona).get(f"/finance/reconciliations/{run.pk}/", headers=HTMX))
    assert "Stripe: the emulator is down Start a new run once Stripe answers again." in markup
    assert "hx-get" not in markup


def test_an_unknown_run_is_404(client_for, fiona):
    assert client_for(fiona).get("/finance/reconciliations/999999/").status_code == 404
    assert client_for(fiona).get("/finance/reconciliations/999999/export.csv").status_code == 404


def test_the_runs_list_links_each_run_newest_first(client_for, fiona, reconciled):
    older = reconciled
    newer = reconcile.start_run(None, older.period_start)
    page = text(client_for(fiona).get("/finance/reconciliations/"))
    assert page.index(f'href="/finance/reconciliations/{newer.pk}/"') < page.index(
        f'href="/finance/reconciliations/{older.pk}/"'
    )
    assert "Daily schedule" in page  # the newer run had no person behind it
    assert "fiona@switchboard.test" in page


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_csv_export_has_the_header_and_a_row_per_line(
    client_for, fiona, reconciled, acme, globex, hour_ago
):
    response = client_for(fiona).get(f"/finance/reconciliations/{reconciled.pk}/export.csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="reconciliation-{reconciled.pk}-{reconciled.period_start:%Y-%m}.csv"'
    )
    header, *rows = csv_rows(response)
    assert header == [
        "day",
        "organization",
        "capability",
        "meter",
        "switchboard_quantity",
        "stripe_quantity",
        "difference",
        "status",
        "action",
        "detail",
    ]
    by_org = {row[1]: row for row in rows}
    assert by_org.keys() == {acme.slug, globex.slug}
    day = hour_ago(3).date().isoformat()
    assert by_org[acme.slug][:9] == [day, acme.slug, "ocr", "pages", "42", "0", "-42", "missing", "repushed"]
    assert by_org[acme.slug][9].startswith("Re-pushed 42 units as ")
    assert by_org[globex.slug] == [day, globex.slug, "ocr", "pages", "7", "7", "0", "matched", "none", ""]

    filtered = csv_rows(
        client_for(fiona).get(f"/finance/reconciliations/{reconciled.pk}/export.csv", {"status": "matched"})
    )
    assert [row[1] for row in filtered[1:]] == [globex.slug]


def test_the_csv_export_neutralises_formula_like_cells(client_for, fiona):
    formula = "=cmd|' /C calc'!A0"
    evil = OrganizationFactory(name=formula, slug=formula)
    run = reconcile.start_run(fiona, billing_period(timezone.now()).start)
    ReconciliationLine.objects.create(
        run=run,
        organization=evil,
        capability="ocr",
        meter="pages",
        day=run.period_start.date(),
        local_quantity=10,
        stripe_quantity=5,
        status=Status.MISSING,
        action=Action.REVIEW,
        detail="+SUM(1,2)",
    )
    [_, row] = csv_rows(client_for(fiona).get(f"/finance/reconciliations/{run.pk}/export.csv"))
    assert row[1] == "'" + formula
    assert row[9] == "'+SUM(1,2)"
    assert row[6] == "-5"  # our own number stays a number


def test_the_runs_list_costs_the_same_queries_whatever_the_runs(
    client_for, fiona, django_assert_max_num_queries
):
    many_runs(fiona)
    client = client_for(fiona)
    with django_assert_max_num_queries(8):  # 6 today; a query per run would add 20
        response = client.get("/finance/reconciliations/")
    assert response.status_code == 200
    assert response.content.decode().count('href="/finance/reconciliations/') >= 20


def test_a_run_with_many_lines_costs_the_same_queries(client_for, fiona, django_assert_max_num_queries):
    [run] = many_runs(fiona, count=1)
    organizations = OrganizationFactory.create_batch(3)
    many_lines(run, organizations, count=3 * MANY)
    client = client_for(fiona)
    with django_assert_max_num_queries(9):  # 7 today; a query per line would add 50
        response = client.get(f"/finance/reconciliations/{run.pk}/")
    assert response.status_code == 200
    assert organizations[2].name in unescape(response.content.decode())
    with django_assert_max_num_queries(7):  # 5 today, whatever the lines
        export = client.get(f"/finance/reconciliations/{run.pk}/export.csv")
    assert len(csv_rows(export)) == 1 + 3 * MANY
