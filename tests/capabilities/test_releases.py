"""Versions and channels (issue 19): what a capability declares, which release
an organization runs, who may change it, what a job runs with, and how the
pages, the API and OFREP state it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from billing import actions as billing_actions
from billing import price_book
from billing.models import PriceVersion
from capabilities import actions, releases
from capabilities.models import Job, ReleaseChange, ReleaseChoice
from capabilities.ofrep.evaluation import evaluate
from capabilities.registry import (
    BETA,
    STABLE,
    CapabilityConfig,
    JobKind,
    Meter,
    Registry,
    Version,
    registry,
)
from capabilities.runner import _run
from portal.actions.errors import ActionError
from portal.models import AuditEntry

CHANNEL = "/api/v1/capabilities/{}/channel"


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what an action does after commit (the gate's new stamp), as a request would."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


# --- declarations ------------------------------------------------------------------


def test_a_capability_without_versions_has_one_stable_release():
    glossary_like = registry().get("notifications")
    assert [(v.number, v.channel) for v in glossary_like.releases] == [(glossary_like.version, STABLE)]
    assert not glossary_like.has_beta


def test_beta_runs_the_newest_beta_and_stable_the_newest_stable():
    ocr, summaries, glossary = (registry().get(key) for key in ("ocr", "summaries", "glossary"))
    assert (ocr.latest(STABLE).number, ocr.latest(BETA).number) == ("1.0.0", "2.0.0")
    assert (summaries.latest(STABLE).number, summaries.latest(BETA).number) == ("1.1.0", "2.0.0")
    # No beta newer than stable: beta is stable's release, and there is nothing to opt in to.
    assert glossary.latest(BETA).number == "1.1.0" and not glossary.has_beta
    assert ocr.version == "1.0.0" and summaries.version == "1.1.0"  # `version`: the default release


def test_a_version_changes_only_the_job_kinds_it_names():
    ocr = registry().get("ocr")
    assert ocr.job_kind("recognize", "2.0.0").function.endswith("recognize_two_columns")
    assert ocr.job_kind("recognize", "1.0.0").function.endswith(".recognize")
    assert ocr.job_kind("noop", "2.0.0").function.endswith(".noop")
    with pytest.raises(LookupError, match="no version"):
        ocr.job_kind("recognize", "9.9")


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        ((Version("1.0"), Version("1.0", BETA)), "declares a version twice"),
        ((Version("1.0", BETA),), "no stable version"),
        ((Version("1:0"),), "not a version number"),
        ((Version("1.0"), Version("2.0", BETA, job_kinds=(("nope", "x.y"),))), "not one of its job kinds"),
    ],
)
def test_bad_version_declarations_fail_at_start_up(versions, message):
    class Broken(CapabilityConfig):
        key = "broken"
        job_kinds = {"run": JobKind("tests.capability_apps.ocr.jobs.noop")}

    capability = Broken.__new__(Broken)
    capability.versions = versions
    with pytest.raises(ImproperlyConfigured, match=message):
        Registry({"broken": capability}).validate()


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ((("nope", Decimal("0.01")),), "prices 'nope', which is not one of its meters"),
        ((("api_calls", Decimal("0.01")),), "API calls are billed at the capability's price"),
    ],
)
def test_bad_version_prices_fail_at_start_up(prices, message):
    class Broken(CapabilityConfig):
        key = "broken"
        meters = (Meter("pages", "page", Decimal("0.01")), Meter("pages_v2_0", "page", Decimal("0.01")))

    capability = Broken.__new__(Broken)
    capability.versions = (Version("1.0"), Version("2.0", BETA, prices=prices))
    with pytest.raises(ImproperlyConfigured, match=message):
        Registry({"broken": capability}).validate()


def test_a_version_meter_that_would_shadow_a_declared_one_is_refused():
    class Broken(CapabilityConfig):
        key = "broken"
        meters = (Meter("pages", "page", Decimal("0.01")), Meter("pages_v2_0", "page", Decimal("0.01")))

    capability = Broken.__new__(Broken)
    capability.versions = (Version("1.0"), Version("2.0", BETA, prices=(("pages", Decimal("0.005")),)))
    with pytest.raises(ImproperlyConfigured, match="'pages_v2_0', which it declares already"):
        Registry({"broken": capability}).validate()


@pytest.mark.parametrize(("price", "message"), [(0.005, "never a float"), (Decimal("-1"), "negative")])
def test_a_version_price_is_a_decimal_of_zero_or_more(price, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        Version("2.0", BETA, prices=(("pages", price),))


def test_a_version_that_prices_a_meter_has_its_own_meter_for_it(db):
    ocr = registry().get("ocr")
    own = ocr.meter("pages_v2_0_0")
    assert (own.unit, own.unit_price, own.version, own.base) == ("page", Decimal("0.005"), "2.0.0", "pages")
    # Its jobs count pages there; every other version, and every other meter, shares the capability's.
    assert ocr.billed_meter("pages", "2.0.0") == "pages_v2_0_0"
    assert ocr.billed_meter("pages", "1.0.0") == "pages"
    assert ocr.billed_meter("compute_seconds", "2.0.0") == "compute_seconds"
    assert ocr.billed_meter("pages", "") == "pages" and ocr.billed_meter("pages", "9.9") == "pages"
    # The catalog lists the capability's own price; the version's is shown beside the version.
    assert [meter.key for meter in ocr.listed_meters] == ["pages"]
    [(base, priced)] = ocr.version_prices("2.0.0")
    assert (base.unit_price, priced.unit_price) == (Decimal("0.010"), Decimal("0.005"))
    assert ocr.version_prices("1.0.0") == []


def test_an_unknown_channel_is_refused_at_declaration():
    with pytest.raises(ImproperlyConfigured, match="channel"):
        Version("1.0", "nightly")


# --- choosing a channel --------------------------------------------------------------


def test_an_owner_opts_in_to_beta_and_back_audited_and_in_history(alice, acme, commit):
    assert releases.running(acme, "ocr").version.number == "1.0.0"

    now = commit(releases.set_channel, alice, acme, "ocr", BETA)

    assert (now.version.number, now.channel) == ("2.0.0", BETA)
    assert releases.running(acme, "ocr").version.number == "2.0.0"  # the gate's snapshot, renewed
    change = ReleaseChange.objects.get(organization=acme)
    assert (change.from_version, change.to_version, change.to_channel, change.actor) == (
        "1.0.0",
        "2.0.0",
        BETA,
        alice,
    )
    audit = AuditEntry.objects.get(action="capability.channel_changed")
    assert audit.details["to_version"] == "2.0.0"

    commit(releases.set_channel, alice, acme, "ocr", STABLE)
    assert releases.running(acme, "ocr").version.number == "1.0.0"
    assert ReleaseChange.objects.filter(organization=acme).count() == 2
    # The same channel again changes nothing and records nothing.
    commit(releases.set_channel, alice, acme, "ocr", STABLE)
    assert ReleaseChange.objects.filter(organization=acme).count() == 2


def test_a_channel_is_the_organizations_own(alice, acme, globex, commit):
    commit(releases.set_channel, alice, acme, "ocr", BETA)
    assert releases.running(globex, "ocr").version.number == "1.0.0"


@pytest.mark.parametrize(
    ("who", "key", "channel", "code"),
    [
        ("bob", "ocr", BETA, "managing_role_required"),  # a member
        ("carol", "ocr", BETA, "managing_role_required"),  # billing
        ("gina", "ocr", BETA, "managing_role_required"),  # another organization's owner
        ("alice", "ocr", "nightly", "unknown_channel"),
        ("alice", "glossary", BETA, "no_beta_version"),
    ],
)
def test_refused_channel_changes_say_why_and_change_nothing(cast, acme, who, key, channel, code):
    with pytest.raises(ActionError) as refused:
        releases.set_channel(cast[who], acme, key, channel)
    assert refused.value.code == code
    assert not ReleaseChange.objects.exists()
    assert releases.running(acme, key).channel == STABLE


# --- pins by IT admins ---------------------------------------------------------------------


def test_an_it_admin_pins_a_version_the_organization_cannot_leave(ivan, alice, acme, commit):
    commit(releases.set_channel, alice, acme, "summaries", BETA)
    commit(releases.pin_version, ivan, acme, "summaries", "1.0.0", reason="2.0 breaks their export")

    running = releases.running(acme, "summaries")
    assert (running.version.number, running.pinned, running.pinned_reason) == (
        "1.0.0",
        True,
        "2.0 breaks their export",
    )
    with pytest.raises(ActionError) as refused:
        releases.set_channel(alice, acme, "summaries", STABLE)
    assert refused.value.code == "version_pinned"
    assert "2.0 breaks their export" in refused.value.message

    commit(releases.unpin_version, ivan, acme, "summaries")
    assert releases.running(acme, "summaries").version.number == "2.0.0"  # its channel, beta, again
    actions_seen = list(AuditEntry.objects.filter(organization=acme).values_list("action", flat=True))
    assert {"capability.version_pinned", "capability.version_unpinned"} <= set(actions_seen)


@pytest.mark.parametrize(
    ("who", "version", "reason", "code"),
    [
        ("alice", "1.0.0", "owner", "it_admin_required"),
        ("ivan", "3.0.0", "unknown", "unknown_version"),
        ("ivan", "1.0.0", "  ", "reason_required"),
    ],
)
def test_refused_pins(cast, acme, who, version, reason, code):
    with pytest.raises(ActionError) as refused:
        releases.pin_version(cast[who], acme, "summaries", version, reason=reason)
    assert refused.value.code == code
    assert not ReleaseChoice.objects.filter(pinned_version__gt="").exists()


def test_lifting_a_pin_that_is_not_there_is_refused(ivan, acme):
    with pytest.raises(ActionError) as refused:
        releases.unpin_version(ivan, acme, "summaries")
    assert refused.value.code == "not_pinned"


# --- jobs ------------------------------------------------------------------------------


def test_a_job_queued_on_stable_runs_on_stable_after_the_switch_to_beta(alice, acme, switch, commit):
    switch(alice, acme, "ocr", enabled=True)
    before = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})
    commit(releases.set_channel, alice, acme, "ocr", BETA)
    after = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})

    assert (before.version, after.version) == ("1.0.0", "2.0.0")
    _run(before.pk, "stable")
    _run(after.pk, "beta")
    before.refresh_from_db()
    after.refresh_from_db()
    assert before.status == after.status == Job.Status.SUCCEEDED
    assert "engine" not in before.result
    assert after.result["engine"] == "two-column"


def test_a_job_of_a_version_no_longer_installed_fails_with_the_reason(alice, acme, switch):
    switch(alice, acme, "ocr", enabled=True)
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
    Job.objects.filter(pk=job.pk).update(version="0.1.0")

    _run(job.pk, "gone")

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "Version 0.1.0 of Text recognition" in job.error


# --- the API, OFREP, the pages ---------------------------------------------------------------


def test_the_api_lists_versions_and_switches_the_channel(client_for, alice, bob, acme):
    owner = client_for(alice)
    answer = owner.put(CHANNEL.format("ocr"), {"channel": "beta"}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["channel"], body["running_version"], body["version"]) == ("beta", "2.0.0", "1.0.0")
    assert [v["version"] for v in body["versions"]] == ["1.0.0", "2.0.0"]

    listed = {c["key"]: c for c in owner.get("/api/v1/capabilities/").json()}
    assert listed["ocr"]["running_version"] == "2.0.0"
    assert listed["glossary"]["running_version"] == "1.1.0"

    member = client_for(bob).put(
        CHANNEL.format("ocr"), {"channel": "stable"}, content_type="application/json"
    )
    assert member.status_code == 403


@pytest.mark.parametrize(
    ("key", "payload", "status", "code"),
    [
        ("ocr", {"channel": "nightly"}, 400, "is not a valid choice"),
        ("ocr", {}, 400, "This field is required"),
        ("glossary", {"channel": "beta"}, 400, "Glossary has no beta version at the moment"),
        ("nope", {"channel": "beta"}, 404, None),
    ],
)
def test_bad_channel_requests_get_a_clear_answer(client_for, alice, acme, key, payload, status, code):
    answer = client_for(alice).put(CHANNEL.format(key), payload, content_type="application/json")
    assert answer.status_code == status, answer.content
    if code:
        assert code in answer.content.decode()


def test_a_pinned_capability_answers_409(client_for, ivan, alice, acme, commit):
    commit(releases.pin_version, ivan, acme, "ocr", "1.0.0", reason="hold")
    answer = client_for(alice).put(
        CHANNEL.format("ocr"), {"channel": "beta"}, content_type="application/json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "version_pinned"


def test_ofrep_states_the_version_the_organization_runs(alice, acme, commit):
    assert evaluate(acme.pk, "ocr")["metadata"]["version"] == "1.0.0"
    commit(releases.set_channel, alice, acme, "ocr", BETA)
    metadata = evaluate(acme.pk, "ocr")["metadata"]
    assert (metadata["version"], metadata["channel"]) == ("2.0.0", "beta")


def test_the_capability_page_offers_the_beta_to_owners_only(client_for, alice, bob, acme):
    page = client_for(alice).get("/capabilities/ocr/").content.decode()
    assert "Versions" in page and "Try the beta" in page and "A new engine" in page
    member_page = client_for(bob).get("/capabilities/ocr/").content.decode()
    assert "Try the beta" not in member_page and "Owners and admins can opt" in member_page
    # One release only: no versions card.
    assert "Try the beta" not in client_for(alice).get("/capabilities/notifications/").content.decode()


def test_an_owner_switches_from_the_page_and_the_history_shows_it(
    client_for, alice, acme, django_capture_on_commit_callbacks
):
    client = client_for(alice)
    client.get("/capabilities/ocr/")  # the gate's snapshot, warm: the switch must renew it
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/capabilities/ocr/channel/", {"channel": "beta"})
    assert answer.status_code == 302
    page = client.get("/capabilities/ocr/").content.decode()
    assert "Back to stable" in page
    # The prices card says what the version it now runs costs.
    assert "Your new jobs run version 2.0.0, priced differently: <strong>$0.005</strong> per page" in page
    catalog = client.get("/").content.decode()
    assert "Runs 2.0.0" in catalog  # the catalog card says it runs the beta
    assert "Channel stable → beta" in page and "version 1.0.0 → 2.0.0" in page
    assert releases.running(acme, "ocr").version.number == "2.0.0"


def test_a_member_cannot_post_a_channel(client_for, bob, acme):
    assert client_for(bob).post("/capabilities/ocr/channel/", {"channel": "beta"}).status_code == 403
    assert not ReleaseChoice.objects.exists()


def test_an_it_admin_pins_from_the_tenants_page(client_for, ivan, acme, django_capture_on_commit_callbacks):
    client = client_for(ivan)
    page = client.get(f"/manage/organizations/{acme.slug}/capabilities/").content.decode()
    assert "Follow its channel" in page and "Pin 2.0.0 (beta)" in page

    url = f"/manage/organizations/{acme.slug}/capabilities/ocr/version/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"version": "2.0.0", "reason": "pilot of the new engine"})
    assert releases.running(acme, "ocr").version.number == "2.0.0"

    refused = client.post(url, {"version": "7.0.0", "reason": "typo"}, follow=True).content.decode()
    assert "has no version “7.0.0”" in refused
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"version": "", "reason": "pilot over"})
    assert not releases.running(acme, "ocr").pinned


def test_the_jobs_page_shows_each_jobs_version(client_for, alice, acme, switch, commit):
    switch(alice, acme, "ocr", enabled=True)
    commit(releases.set_channel, alice, acme, "ocr", BETA)
    job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
    page = client_for(alice).get("/jobs/").content.decode()
    assert "2.0.0" in page and "Beta" in page
    detail = client_for(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert "Runs with version 2.0.0" in detail


def test_usage_is_grouped_by_the_version_its_jobs_ran(client_for, alice, acme, switch, commit):
    switch(alice, acme, "ocr", enabled=True)
    stable_job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})
    commit(releases.set_channel, alice, acme, "ocr", BETA)
    beta_job = actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 3})
    _run(stable_job.pk, "stable")
    _run(beta_job.pk, "beta")

    answer = client_for(alice).get("/api/v1/usage/", {"group_by": "capability,meter,version"})
    assert answer.status_code == 200, answer.content
    # 2.0.0 prices pages differently, so its pages are counted on its own meter.
    pages = {
        (row["meter"], row["version"]): row["quantity"]
        for row in answer.json()["rows"]
        if row["meter"].startswith("pages")
    }
    assert pages == {("pages", "1.0.0"): 2, ("pages_v2_0_0", "2.0.0"): 3}
    assert "version" in answer.json()["group_by"]
    # The same usage without the version: the rollups agree with the events.
    total = client_for(alice).get("/api/v1/usage/", {"group_by": "capability,meter"}).json()["rows"]
    by_meter = {row["meter"]: row for row in total if row["capability"] == "ocr"}
    assert (by_meter["pages"]["quantity"], by_meter["pages_v2_0_0"]["quantity"]) == (2, 3)
    # Each at its own price: 2 x 0.010 and 3 x 0.005.
    costs = (Decimal(by_meter["pages"]["cost"]), Decimal(by_meter["pages_v2_0_0"]["cost"]))
    assert costs == (Decimal("0.02"), Decimal("0.015"))


def test_a_malformed_channel_form_is_refused_with_a_message(client_for, alice, acme):
    answer = client_for(alice).post("/capabilities/ocr/channel/", {"channel": "nightly"}, follow=True)
    assert answer.status_code == 200
    assert "Choose stable or beta." in answer.content.decode()
    assert not ReleaseChoice.objects.exists()


def test_a_malformed_pin_form_is_refused_with_a_message(client_for, ivan, acme):
    url = f"/manage/organizations/{acme.slug}/capabilities/ocr/version/"
    answer = client_for(ivan).post(url, {"version": "2.0.0", "reason": "x" * 301}, follow=True)
    assert "The reason is at most 300 characters." in answer.content.decode()
    answer = client_for(ivan).post(url, {"version": "2.0.0", "reason": ""}, follow=True)
    assert "Give a reason: the organization sees it." in answer.content.decode()
    assert not ReleaseChoice.objects.exists()


# --- a version priced differently ----------------------------------------------------


def test_the_price_book_has_a_line_for_a_version_priced_differently(fiona):
    price_book.ensure_defaults()
    line = PriceVersion.objects.get(capability="ocr", meter="pages_v2_0_0")
    assert (line.version, line.unit_price) == (1, Decimal("0.005"))
    # Finance changes it like any other price: a version from the next period's start.
    change = billing_actions.change_price(
        fiona, "ocr", "pages_v2_0_0", Decimal("0.007"), note="Beta ends soon"
    )
    assert (change.version, change.effective_from) == (2, price_book.next_period_start())
    assert PriceVersion.objects.get(capability="ocr", meter="pages", version=1).unit_price == Decimal("0.01")


def test_the_page_says_what_the_beta_costs(client_for, alice, acme):
    page = client_for(alice).get("/capabilities/ocr/").content.decode()
    assert "Priced for this version:" in page and "$0.005" in page
    assert "It is priced differently: $0.005 per page instead of $0.01" in page
    # A beta priced like stable says so.
    summaries = client_for(alice).get("/capabilities/summaries/").content.decode()
    assert "It costs the same." in summaries


def test_the_api_lists_a_versions_own_meter(client_for, alice, acme):
    listed = {c["key"]: c for c in client_for(alice).get("/api/v1/capabilities/").json()}
    meters = {meter["key"]: meter for meter in listed["ocr"]["meters"]}
    assert (meters["pages_v2_0_0"]["version"], meters["pages_v2_0_0"]["base"]) == ("2.0.0", "pages")
    assert meters["pages_v2_0_0"]["unit_price"] == "0.0050000000"
    assert (meters["pages"]["version"], meters["pages"]["base"]) == ("", "")


# --- the history API -------------------------------------------------------------------


def test_the_history_api_lists_channel_switches_and_pins_with_the_toggles(
    client_for, alice, ivan, bob, acme, switch, commit
):
    switch(alice, acme, "ocr", enabled=True, reason="Scans")
    commit(releases.set_channel, alice, acme, "ocr", BETA)
    commit(releases.pin_version, ivan, acme, "ocr", "1.0.0", reason="Hold for the audit")

    answer = client_for(bob).get("/api/v1/capabilities/ocr/history")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["count"] == 3
    rows = [
        (
            row["kind"],
            row["actor"],
            row["source"],
            row["locked"],
            row["to_enabled"],
            row["from_version"],
            row["to_version"],
            row["to_channel"],
            row["reason"],
        )
        for row in body["results"]
    ]
    assert rows == [
        (
            "release",
            "ivan@switchboard.test",
            "it_admin",
            True,
            None,
            "2.0.0",
            "1.0.0",
            "beta",
            "Hold for the audit",
        ),
        (
            "release",
            "alice@acme.test",
            "organization",
            False,
            None,
            "1.0.0",
            "2.0.0",
            "beta",
            "Switched to beta",
        ),
        ("toggle", "alice@acme.test", "organization", False, True, None, None, None, "Scans"),
    ]
    # Paginated across both kinds.
    page = client_for(bob).get("/api/v1/capabilities/ocr/history", {"limit": 1, "offset": 1}).json()
    assert [row["kind"] for row in page["results"]] == ["release"] and page["count"] == 3
