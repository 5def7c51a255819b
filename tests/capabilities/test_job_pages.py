"""The jobs pages: starting a job from a capability's page, the jobs list with
its filters, a job's page for every status with its live progress (htmx polling
that stops once the job finished), cancelling a queued job, and who may do what.

Jobs started here stay queued: the test transaction never commits, so nothing
is sent to a worker. Other statuses are set on the rows directly.

One module for the jobs pages (one module per view family, STYLE rule 11).
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from capabilities.models import Job
from metering.models import EventKind
from portal.models import AuditEntry
from tests.factories import JobFactory, MembershipFactory, UsageEventFactory, UserFactory
from tests.html import text

HTMX = {"HX-Request": "true"}
START = "/capabilities/ocr/jobs/"


def flashes(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def job_ids(response) -> list[int]:
    """The jobs a list page links to, in order."""
    return [int(pk) for pk in re.findall(r'href="/jobs/(\d+)/"', response.content.decode())]


def job_rows(response) -> dict[int, str]:
    """The jobs list's rows as a reader sees them, by job id."""
    return {
        int(pk): " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row, pk in re.findall(
            r'(<tr[^>]*>\s*<td[^>]*><a href="/jobs/(\d+)/".*?</tr>)', response.content.decode(), re.S
        )
    }


def status_section(response) -> str:
    match = re.search(r'<section class="card" id="job-status".*?</section>', response.content.decode(), re.S)
    assert match, "no #job-status section"
    return match.group(0)


@pytest.fixture
def ocr_on(alice, acme, switch) -> None:
    switch(alice, acme, "ocr", enabled=True)


# --- starting a job from the capability's page ------------------------------------


def test_bob_starts_a_job_and_lands_on_its_page(client_for, bob, acme, ocr_on):
    client = client_for(bob)
    page = text(client.get("/capabilities/ocr/"))
    assert "Run a job" in page
    assert "Recognise pages" in page  # the kind's label, and its declared input's fields
    assert 'name="recognize-pages"' in page
    assert 'name="input"' not in page  # no raw JSON box
    assert "Start" in page

    response = client.post(START, {"kind": "recognize", "recognize-pages": "5"}, follow=True)

    job = Job.objects.get()
    assert response.redirect_chain == [(f"/jobs/{job.pk}/", 302)]
    assert (job.organization, job.capability, job.kind, job.input) == (acme, "ocr", "recognize", {"pages": 5})
    assert (job.status, job.requested_by) == (Job.Status.QUEUED, bob)
    assert flashes(response) == [f"Job #{job.pk} is queued."]
    page = text(response)
    assert f"Job #{job.pk} · Text recognition" in page
    assert 'data-status="queued"' in page
    assert "Waiting to start." in page
    assert "cap.ocr" not in page and "on queue" not in page
    assert "by bob@acme.test" in page


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("many", "Enter a whole number."),
    ],
    ids=["zero", "not-a-number"],
)
def test_a_bad_input_comes_back_on_the_page_with_its_field_marked(client_for, bob, ocr_on, pages, message):
    response = client_for(bob).post(START, {"kind": "recognize", "recognize-pages": pages})

    assert response.status_code == 400
    page = text(response)
    assert "Run a job" in page and 'name="recognize-pages"' in page
    assert message in page
    assert not Job.objects.exists()


@pytest.mark.parametrize("kind", ["transcribe", "noop", ""])
def test_only_a_kind_a_person_starts_by_hand_starts_here(client_for, bob, ocr_on, kind):
    response = client_for(bob).post(START, {"kind": kind}, follow=True)

    assert response.redirect_chain == [("/capabilities/ocr/", 302)]
    assert flashes(response) == ["Text recognition has no job that starts here."]
    assert not Job.objects.exists()


def test_a_capability_that_starts_its_own_jobs_offers_no_job_form(client_for, alice, bob, acme, switch):
    """Issue 13: Sales reports offered a raw JSON box whose job then failed with
    "This report's upload set was deleted before the build started"."""
    switch(alice, acme, "reports", enabled=True)

    page = text(client_for(bob).get("/capabilities/reports/"))

    assert "Run a job" not in page and "<textarea" not in page
    assert "Sales reports starts its jobs itself, from its own pages" in page
    assert 'href="/c/reports/"' in page
    assert client_for(bob).post("/capabilities/reports/jobs/", {"kind": "build"}).status_code == 302
    assert not Job.objects.exists()


def test_carol_of_billing_sees_no_form_and_may_not_start(client_for, carol, ocr_on):
    client = client_for(carol)

    page = text(client.get("/capabilities/ocr/"))
    assert "Run a job" not in page
    assert 'name="recognize-pages"' not in page

    response = client.post(START, {"kind": "recognize", "recognize-pages": "1"})
    assert response.status_code == 403
    assert not Job.objects.exists()


def test_a_switched_off_capability_refuses_to_start_and_its_page_still_shows(
    client_for, alice, bob, acme, switch
):
    switch(alice, acme, "ocr", enabled=True)
    switch(alice, acme, "ocr", enabled=False)
    client = client_for(bob)

    response = client.post(START, {"kind": "recognize", "recognize-pages": "1"}, follow=True)

    assert response.redirect_chain == [("/capabilities/ocr/", 302)]
    assert response.status_code == 200
    assert flashes(response) == ["Text recognition is switched off for your organization."]
    assert "Turns scanned pages into text." in text(response)
    assert "Run a job" not in text(response)  # no form while it is off
    assert not Job.objects.exists()


def test_gina_cannot_start_a_job_for_acme(client_for, gina, alice, acme, switch):
    switch(alice, acme, "ocr", enabled=True)

    response = client_for(gina).post(START, {"kind": "recognize", "recognize-pages": "1"}, follow=True)

    # She acts for globex, where ocr is off: acme gets nothing either way.
    assert flashes(response) == ["Text recognition is switched off for your organization."]
    assert not Job.objects.filter(organization=acme).exists()


def test_an_unknown_capability_is_404(client_for, bob):
    assert client_for(bob).post("/capabilities/nope/jobs/", {"kind": "x"}).status_code == 404


def test_start_takes_post_only(client_for, bob, ocr_on):
    assert client_for(bob).get(START).status_code == 405


# --- the jobs list ---------------------------------------------------------------


def test_the_jobs_list_starts_empty(client_for, bob):
    response = client_for(bob).get("/jobs/")

    assert response.status_code == 200
    page = text(response)
    assert "No jobs yet" in page
    assert "POST /api/v1/jobs/" in page
    assert 'class="filters"' not in page


def test_the_jobs_list_shows_acmes_jobs_newest_first_and_never_globexs(client_for, bob, acme, globex):
    now = timezone.now()
    older = JobFactory(organization=acme, queued_at=now - timedelta(hours=2), requested_by=bob)
    newer = JobFactory(
        organization=acme,
        status=Job.Status.SUCCEEDED,
        queued_at=now - timedelta(hours=1),
        capability="summaries",
    )
    theirs = JobFactory(organization=globex)

    response = client_for(bob).get("/jobs/")

    assert job_ids(response) == [newer.pk, older.pk]
    assert theirs.pk not in job_ids(response)
    page = text(response)
    assert "Summaries" in page  # capability titles, not keys
    assert "bob@acme.test" in page
    assert "API key" in page  # a job without a person was started with an API key
    assert 'class="filters"' in page


def test_the_jobs_list_filters_by_capability_status_and_date(client_for, bob, acme):
    now = timezone.now()
    long_ago = JobFactory(organization=acme, status=Job.Status.SUCCEEDED, queued_at=now - timedelta(days=10))
    last_week = JobFactory(organization=acme, status=Job.Status.FAILED, queued_at=now - timedelta(days=5))
    today_ocr = JobFactory(organization=acme, status=Job.Status.QUEUED, queued_at=now)
    today_summary = JobFactory(
        organization=acme, status=Job.Status.QUEUED, queued_at=now, capability="summaries"
    )
    client = client_for(bob)

    def listed(**params) -> set[int]:
        response = client.get("/jobs/", params)
        assert response.status_code == 200
        return set(job_ids(response))

    assert listed() == {long_ago.pk, last_week.pk, today_ocr.pk, today_summary.pk}
    assert listed(capability="summaries") == {today_summary.pk}
    assert listed(capability="ocr") == {long_ago.pk, last_week.pk, today_ocr.pk}
    assert listed(status="queued") == {today_ocr.pk, today_summary.pk}
    assert listed(status="failed") == {last_week.pk}
    assert listed(capability="ocr", status="queued") == {today_ocr.pk}
    six_days_ago = (timezone.localdate() - timedelta(days=6)).isoformat()
    four_days_ago = (timezone.localdate() - timedelta(days=4)).isoformat()
    assert listed(since=six_days_ago) == {last_week.pk, today_ocr.pk, today_summary.pk}
    assert listed(until=four_days_ago) == {long_ago.pk, last_week.pk}
    assert listed(since=six_days_ago, until=four_days_ago) == {last_week.pk}
    assert listed(since=timezone.localdate().isoformat(), status="succeeded") == set()
    nothing = text(client.get("/jobs/", {"status": "refused"}))
    assert "No job matches these filters." in nothing


def test_the_filtered_table_alone_comes_back_to_htmx(client_for, bob, acme):
    job = JobFactory(organization=acme, status=Job.Status.FAILED)
    JobFactory(organization=acme)

    response = client_for(bob).get("/jobs/", {"status": "failed"}, headers=HTMX)

    body = response.content.decode().strip()
    assert body.startswith('<div id="job-table"')
    assert "<html" not in body
    assert job_ids(response) == [job.pk]


def test_htmx_restoring_the_filtered_list_from_history_gets_the_whole_page(client_for, bob, acme):
    """The filter form pushes its URL; going Back to it after htmx's history
    cache lost the page asks for it again as an htmx request: it needs the page."""
    job = JobFactory(organization=acme, status=Job.Status.FAILED)
    client = client_for(bob)

    response = client.get(
        "/jobs/", {"status": "failed"}, headers={**HTMX, "HX-History-Restore-Request": "true"}
    )

    body = response.content.decode()
    assert "<html" in body
    assert "<h1>Jobs</h1>" in body
    assert job_ids(response) == [job.pk]


@pytest.mark.parametrize("url", ["/jobs/", "/jobs/?status=failed", "job"])
def test_pages_that_answer_htmx_with_a_fragment_vary_on_it(client_for, bob, acme, url):
    """The same URL answers a page or a fragment: caches must keep them apart
    (else Back can show the browser a bare fragment)."""
    job = JobFactory(organization=acme, status=Job.Status.FAILED)
    url = f"/jobs/{job.pk}/" if url == "job" else url
    client = client_for(bob)

    for headers in ({}, HTMX):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        assert "HX-Request" in response.headers["Vary"]


def test_the_jobs_lists_query_count_does_not_grow_with_jobs(client_for, bob, alice, acme):
    client = client_for(bob)

    def list_queries() -> int:
        client.get("/jobs/")  # warm the toggle snapshot
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/jobs/").status_code == 200
        return len(queries)

    JobFactory(organization=acme, requested_by=bob)
    JobFactory(organization=acme, status=Job.Status.SUCCEEDED, requested_by=alice)
    before = list_queries()
    for number in range(34):
        JobFactory(
            organization=acme,
            status=[Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.SUCCEEDED][number % 3],
            requested_by=[alice, bob, None][number % 3],
            capability=["ocr", "summaries"][number % 2],
        )
    assert Job.objects.filter(organization=acme).count() == 36

    assert list_queries() == before
    response = client.get("/jobs/")
    assert len(job_ids(response)) == 25  # one page
    assert len(job_ids(client.get("/jobs/", {"page": 2}))) == 11


# --- a job's page ----------------------------------------------------------------


def test_a_queued_job_has_a_cancel_button_for_bob_and_not_for_carol(client_for, bob, carol, acme):
    job = JobFactory(organization=acme, requested_by=bob)

    for_bob = status_section(client_for(bob).get(f"/jobs/{job.pk}/"))
    assert f'action="/jobs/{job.pk}/cancel/"' in for_bob
    assert "Cancel job" in for_bob
    assert 'hx-trigger="every 1s"' in for_bob

    response = client_for(carol).get(f"/jobs/{job.pk}/")
    assert response.status_code == 200  # billing reads jobs
    for_carol = status_section(response)
    assert "Cancel job" not in for_carol
    assert 'data-status="queued"' in for_carol


def test_a_running_job_shows_its_progress_and_keeps_polling(client_for, bob, acme):
    job = JobFactory(
        organization=acme,
        status=Job.Status.RUNNING,
        progress_done=2,
        progress_total=8,
        started_at=timezone.now(),
    )

    section = " ".join(status_section(client_for(bob).get(f"/jobs/{job.pk}/")).split())

    assert 'data-status="running"' in section
    assert '<progress id="job-progress" max="100" value="25"' in section
    assert "25% · 2 of 8" in section
    assert f'hx-get="/jobs/{job.pk}/"' in section
    assert 'hx-trigger="every 1s"' in section
    assert "Cancel job" not in section
    assert "Usage recorded" not in section


def test_a_failed_job_shows_its_error_and_no_usage(client_for, bob, acme):
    job = JobFactory(
        organization=acme,
        status=Job.Status.FAILED,
        error="The scan was unreadable.",
        error_code="job_failed",
        finished_at=timezone.now(),
    )

    section = status_section(client_for(bob).get(f"/jobs/{job.pk}/"))

    assert 'data-status="failed"' in section
    assert 'role="alert">The scan was unreadable.</div>' in section
    assert "None: only jobs that succeed are billed." in section
    assert "hx-trigger" not in section
    assert "Cancel job" not in section


def test_a_refused_job_says_why(client_for, bob, acme):
    job = JobFactory(
        organization=acme,
        status=Job.Status.REFUSED,
        error="Text recognition was switched off before this job started.",
        error_code="capability_disabled",
        finished_at=timezone.now(),
    )

    section = status_section(client_for(bob).get(f"/jobs/{job.pk}/"))

    assert 'data-status="refused"' in section
    assert "switched off before this job started" in section
    assert "hx-trigger" not in section


def test_a_succeeded_job_shows_its_result_and_usage(client_for, bob, acme):
    now = timezone.now()
    job = JobFactory(
        organization=acme,
        status=Job.Status.SUCCEEDED,
        input={"pages": 3},
        result={"pages": 3, "text": "recognised"},
        progress_done=3,
        progress_total=3,
        started_at=now,
        finished_at=now,
        attempts=1,
    )
    for meter, quantity, kind in (("pages", 3, EventKind.UNITS), ("compute_seconds", 1, EventKind.COMPUTE)):
        UsageEventFactory(
            organization=acme,
            meter=meter,
            quantity=quantity,
            kind=kind,
            occurred_at=now,
            idempotency_key=f"job:{job.pk}:{meter}",
            job_id=job.pk,
        )
    other = JobFactory(organization=acme, status=Job.Status.SUCCEEDED, result={})

    response = client_for(bob).get(f"/jobs/{job.pk}/")
    section = " ".join(status_section(response).split())

    assert 'data-status="succeeded"' in section
    assert 'value="100"' in section
    assert "<h3>Result</h3>" in section
    assert '"text": "recognised"' in html.unescape(section)  # JSON, not a Python dict
    rows = re.findall(r"<tr><td><code>(\w+)</code></td><td>(-?\d+)</td>", section)
    assert rows == [("compute_seconds", "1"), ("pages", "3")]
    assert "hx-trigger" not in section
    # Another job's page shows none of it.
    other_section = status_section(client_for(bob).get(f"/jobs/{other.pk}/"))
    assert "None: only jobs that succeed are billed." in other_section


def test_a_cancelled_job_says_who_cancelled_it(client_for, bob, acme):
    job = JobFactory(
        organization=acme, status=Job.Status.CANCELLED, error="Cancelled by bob@acme.test before it started."
    )

    section = status_section(client_for(bob).get(f"/jobs/{job.pk}/"))

    assert 'data-status="cancelled"' in section
    assert "callout-warn" in section
    assert "Cancelled by bob@acme.test before it started." in section
    assert "Cancel job" not in section
    assert "hx-trigger" not in section


def test_the_job_page_shows_its_input(client_for, bob, acme):
    job = JobFactory(organization=acme, input={"pages": 7, "draft": False, "note": None})

    page = text(client_for(bob).get(f"/jobs/{job.pk}/"))

    assert "<h2>Input</h2>" in page
    assert '{\n  "draft": false,\n  "note": null,\n  "pages": 7\n}' in html.unescape(
        client_for(bob).get(f"/jobs/{job.pk}/").content.decode()
    )


@pytest.mark.parametrize("status", [Job.Status.QUEUED, Job.Status.RUNNING])
def test_htmx_polling_gets_only_the_status_partial_while_it_runs(client_for, bob, acme, status):
    job = JobFactory(organization=acme, status=status, progress_done=1, progress_total=4)

    response = client_for(bob).get(f"/jobs/{job.pk}/", headers=HTMX)

    body = response.content.decode().strip()
    assert body.startswith('<section class="card" id="job-status"')
    assert body.endswith("</section>")
    assert body.count("<section") == 1
    assert "<html" not in body
    assert "<h2>Input</h2>" not in body
    assert 'hx-trigger="every 1s"' in body
    assert 'hx-swap="outerHTML"' in body


@pytest.mark.parametrize(
    "status", [Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.REFUSED, Job.Status.CANCELLED]
)
def test_a_finished_jobs_partial_stops_the_polling(client_for, bob, acme, status):
    job = JobFactory(
        organization=acme, status=status, result={"pages": 1} if status == Job.Status.SUCCEEDED else None
    )

    body = client_for(bob).get(f"/jobs/{job.pk}/", headers=HTMX).content.decode().strip()

    assert body.startswith('<section class="card" id="job-status"')
    assert f'data-status="{status}"' in body
    assert "hx-trigger" not in body
    assert "hx-get" not in body


def test_the_partial_follows_the_jobs_progress(client_for, bob, acme):
    job = JobFactory(organization=acme, status=Job.Status.RUNNING, progress_done=0, progress_total=5)
    client = client_for(bob)

    values = []
    for done in (0, 2, 5):
        Job.objects.filter(pk=job.pk).update(progress_done=done)
        body = client.get(f"/jobs/{job.pk}/", headers=HTMX).content.decode()
        values.append(int(re.search(r'<progress id="job-progress" max="100" value="(\d+)"', body).group(1)))
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, result={"pages": 5})
    final = client.get(f"/jobs/{job.pk}/", headers=HTMX).content.decode()

    assert values == [0, 40, 100]
    assert 'value="100"' in final
    assert "Succeeded" in final
    assert "hx-trigger" not in final


# --- cancelling ------------------------------------------------------------------


def test_bob_cancels_a_queued_job(client_for, bob, acme):
    job = JobFactory(organization=acme, requested_by=bob)

    response = client_for(bob).post(f"/jobs/{job.pk}/cancel/", follow=True)

    assert response.redirect_chain == [(f"/jobs/{job.pk}/", 302)]
    assert flashes(response) == [f"Job #{job.pk} is cancelled; nothing was billed."]
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Job.Status.CANCELLED, "cancelled")
    assert job.finished_at is not None
    entry = AuditEntry.objects.get(action="job.cancelled")
    assert (entry.actor, entry.organization, entry.target_id) == (bob, acme, str(job.pk))
    assert entry.details == {"capability": "ocr", "kind": "recognize"}
    assert entry.ip_address == "127.0.0.1"
    section = status_section(response)
    assert 'data-status="cancelled"' in section
    assert "Cancel job" not in section


@pytest.mark.parametrize(
    ("status", "word"),
    [
        (Job.Status.RUNNING, "running"),
        (Job.Status.SUCCEEDED, "succeeded"),
        (Job.Status.FAILED, "failed"),
        (Job.Status.CANCELLED, "cancelled"),
    ],
)
def test_only_a_queued_job_can_be_cancelled(client_for, bob, acme, status, word):
    job = JobFactory(organization=acme, status=status)

    response = client_for(bob).post(f"/jobs/{job.pk}/cancel/", follow=True)

    assert response.redirect_chain == [(f"/jobs/{job.pk}/", 302)]
    assert flashes(response) == [f"Only queued jobs can be cancelled; this one is {word}."]
    assert Job.objects.get(pk=job.pk).status == status
    assert not AuditEntry.objects.filter(action="job.cancelled").exists()


def test_carol_of_billing_may_not_cancel(client_for, carol, acme):
    job = JobFactory(organization=acme)

    assert client_for(carol).post(f"/jobs/{job.pk}/cancel/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_cancel_takes_post_only(client_for, bob, acme):
    job = JobFactory(organization=acme)

    assert client_for(bob).get(f"/jobs/{job.pk}/cancel/").status_code == 405
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


# --- tenant isolation ------------------------------------------------------------


def test_gina_gets_404_for_acmes_jobs(client_for, gina, acme):
    job = JobFactory(organization=acme)
    client = client_for(gina)

    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/", headers=HTMX).status_code == 404
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 404
    assert job.pk not in job_ids(client.get("/jobs/"))
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_a_member_of_both_sees_the_jobs_of_the_organization_they_act_for(client_for, acme, globex):
    both = UserFactory(email="pat@both.test")
    MembershipFactory(user=both, organization=acme)
    MembershipFactory(user=both, organization=globex)
    acme_job, globex_job = JobFactory(organization=acme), JobFactory(organization=globex)
    client = client_for(both)  # acts for Acme Corp first (alphabetical)

    assert job_ids(client.get("/jobs/")) == [acme_job.pk]
    assert client.get(f"/jobs/{globex_job.pk}/").status_code == 404


def test_who_started_a_job_is_said_for_a_person(client_for, bob, acme):
    """A person by address, an API key as such, and what a capability started by
    itself (a notification's delivery) as that capability, automatic: never
    “API” for a job nobody called the API for."""
    by_bob = JobFactory(organization=acme, requested_by=bob)
    by_key = JobFactory(organization=acme, source=Job.Source.API_KEY)
    automatic = JobFactory(
        organization=acme, capability="notifications", kind="deliver", source=Job.Source.AUTOMATIC
    )

    client = client_for(bob)
    rows = job_rows(client.get("/jobs/"))
    assert rows[by_bob.pk].endswith("bob@acme.test")
    assert rows[by_key.pk].endswith("API key")
    assert rows[automatic.pk].endswith("Notifications (automatic)")
    assert "by Notifications (automatic)" in text(client.get(f"/jobs/{automatic.pk}/"))
    assert "by an API key" in text(client.get(f"/jobs/{by_key.pk}/"))
