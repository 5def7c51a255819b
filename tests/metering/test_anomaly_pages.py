"""Usage spikes on the pages: the usage page's list and hold choices (owners,
admins, billing), the release button (owners), the jobs page's held notice,
and finance's list across organizations."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from capabilities import actions
from capabilities.models import Job
from metering import actions as metering_actions
from metering import anomalies
from metering.models import AnomalyHold
from portal.models import AuditEntry
from tests.html import text
from tests.metering.anomaly_data import plant_spike, yesterday

pytestmark = pytest.mark.django_db


def words(response) -> str:
    """The page's words, tags left out."""
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def test_owners_and_billing_see_the_spike_with_its_baseline(client_for, alice, carol, acme):
    plant_spike(acme)
    for person in (alice, carol):
        page = words(client_for(person).get("/usage/"))
        assert "Usage spikes" in page
        assert f"{yesterday():%a} {yesterday().day} {yesterday():%b %Y}" in page
        assert "Text recognition Pages 4,210 460 about 9\N{MULTIPLICATION SIGN} the usual day" in page


def test_a_quiet_organization_reads_no_spikes(client_for, alice):
    assert "No spikes: every closed day was within its usual range." in text(client_for(alice).get("/usage/"))


def test_hold_choice_by_owners_and_admins_only(client_for, alice, carol, acme):
    assert "Hold on a spike" not in text(client_for(carol).get("/usage/"))  # billing reads, doesn't choose
    assert (
        client_for(carol).post("/usage/anomalies/hold/", {"capability": "ocr", "hold": "on"}).status_code
        == 403
    )

    response = client_for(alice).post(
        "/usage/anomalies/hold/", {"capability": "ocr", "hold": "on"}, follow=True
    )

    assert AnomalyHold.objects.get(organization=acme, capability="ocr").hold_on_anomaly
    assert "A usage spike of Text recognition now holds its new jobs" in text(response)
    assert "Holds new jobs on a spike" in text(response)
    assert AuditEntry.objects.filter(action="capability.hold_on_anomaly_changed").count() == 1


@pytest.mark.parametrize(
    "data", [{"capability": "nope", "hold": "on"}, {"capability": "ocr", "hold": "maybe"}, {}]
)
def test_bad_hold_input_is_a_message_not_an_error(client_for, alice, acme, data):
    response = client_for(alice).post("/usage/anomalies/hold/", data, follow=True)
    assert response.status_code == 200
    assert "Choose a capability and whether to hold it on a spike." in text(response)
    assert not AnomalyHold.objects.exists()


def test_held_capability_is_released_from_the_usage_page(client_for, alice, carol, acme):
    actions.set_capability_enabled(alice, acme, "ocr", enabled=True)
    metering_actions.set_hold_on_anomaly(alice, acme, "ocr", enabled=True)
    plant_spike(acme)
    job = actions.start_job(alice, acme, "ocr", kind="noop")

    billing = text(client_for(carol).get("/usage/"))
    assert "Text recognition is on hold" in billing and "An owner of Acme" in billing
    assert "Release held jobs" not in billing
    assert client_for(carol).post("/capabilities/ocr/release/").status_code == 403
    owner = client_for(alice)
    jobs = text(owner.get("/jobs/"))
    assert "Text recognition is on hold" in jobs and "Release held jobs" in jobs and "Held" in jobs
    detail = text(owner.get(f"/jobs/{job.pk}/"))
    assert "is on hold after unusual usage, so this job waits until an owner releases it" in detail

    response = owner.post("/capabilities/ocr/release/", {"next": "/usage/"}, follow=True)

    assert response.redirect_chain[-1][0] == "/usage/"
    assert "Text recognition is no longer held; 1 held job is queued." in text(response)
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    again = text(owner.post("/capabilities/ocr/release/", follow=True))
    assert "Text recognition is not held." in again


def test_finance_sees_every_organizations_spikes(client_for, fiona, acme, globex):
    plant_spike(acme)
    plant_spike(globex, usual=10, figure=800)
    page = words(client_for(fiona).get("/finance/"))
    assert "Usage spikes" in page
    assert "Acme" in page and "Globex" in page
    assert "Text recognition Pages 800 10 about 80\N{MULTIPLICATION SIGN} the usual day" in page


def test_the_usage_page_costs_the_same_queries_with_many_spikes(client_for, alice, acme):
    client = client_for(alice)
    days = [yesterday() - timedelta(days=60 * n) for n in range(1, 13)]
    for day in days:
        plant_spike(acme, day=day, detect=False)
    anomalies.detect(days[:1])
    client.get("/usage/")  # the session's first page reads what later ones have cached
    with CaptureQueriesContext(connection) as one:
        assert words(client.get("/usage/")).count("about 9\N{MULTIPLICATION SIGN} the usual day") == 1
    anomalies.detect(days)
    with CaptureQueriesContext(connection) as twelve:
        assert words(client.get("/usage/")).count("about 9\N{MULTIPLICATION SIGN} the usual day") == 12
    assert len(twelve) == len(one)
