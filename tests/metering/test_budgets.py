"""Budgets: each job's usage charged to the budgets that cover it, once; a
reached `stop` budget refuses new jobs (start_job, the worker's claim, the API)
and lifts when raised or in a new period; alerts once per threshold; platform
caps the organization cannot change; bad input refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from capabilities import actions as capability_actions
from capabilities.gate import budget_stop, forget_snapshots
from capabilities.models import Job
from capabilities.runner import run_job
from metering import actions, budgets
from metering.models import Budget
from portal.actions.errors import ActionError
from portal.models import Alert, AuditEntry


@pytest.fixture
def ocr_on(alice, acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        capability_actions.set_capability_enabled(alice, acme, "ocr", enabled=True)


def _budget(actor, organization, amount, *, capability="ocr", **options):
    return actions.save_budget(actor, organization, capability=capability, amount=Decimal(amount), **options)


def _run(organization, actor, pages):
    """Queue and run (in process) an OCR job of `pages` pages at $0.01 a page."""
    job = capability_actions.start_job(
        actor, organization, "ocr", kind="recognize", job_input={"pages": pages}
    )
    run_job.apply(args=[job.pk])
    return Job.objects.get(pk=job.pk)


def test_a_jobs_usage_is_charged_exactly_to_the_budgets_that_cover_it(ocr_on, alice, acme):
    ocr = _budget(alice, acme, "1.00")
    total = _budget(alice, acme, "5.00", capability=None)
    other = _budget(alice, acme, "1.00", capability="summaries")
    _run(acme, alice, 7)
    for budget, spent in ((ocr, "0.07"), (total, "0.07"), (other, "0")):
        budget.refresh_from_db()
        assert budget.spent == Decimal(spent)
    ocr.refresh_from_db()
    assert (ocr.jobs_charged, ocr.job_spent) == (1, Decimal("0.07"))


def test_a_job_run_twice_is_charged_once(ocr_on, alice, acme):
    budget = _budget(alice, acme, "1.00")
    job = _run(acme, alice, 3)
    # A duplicated message: the job is finished, so the claim takes nothing.
    run_job.apply(args=[job.pk])
    budget.refresh_from_db()
    assert budget.spent == Decimal("0.03")
    assert budget.jobs_charged == 1


def test_recompute_agrees_with_the_charges(ocr_on, alice, acme):
    budget = _budget(alice, acme, "1.00")
    _run(acme, alice, 3)
    _run(acme, alice, 4)
    Budget.objects.filter(pk=budget.pk).update(spent=Decimal(0))
    assert budgets.recompute(acme) == 1
    budget.refresh_from_db()
    assert budget.spent == Decimal("0.07")


def test_a_reached_stop_budget_refuses_new_jobs(ocr_on, alice, acme):
    _budget(alice, acme, "0.05")
    assert _run(acme, alice, 5).status == Job.Status.SUCCEEDED  # exactly the budget: reached
    forget_snapshots()
    stop = budget_stop(acme, "ocr")
    assert stop is not None and stop.spent == Decimal("0.05")
    with pytest.raises(capability_actions.BudgetExhausted) as refused:
        capability_actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
    assert refused.value.code == "budget_exhausted"
    assert "monthly budget of $0.05 for Text recognition is reached" in refused.value.message
    assert "owner, admin or billing member can raise it" in refused.value.message


def test_a_queued_job_is_refused_by_the_worker_and_bills_nothing(ocr_on, alice, acme):
    budget = _budget(alice, acme, "0.05")
    waiting = capability_actions.start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 2})
    _run(acme, alice, 5)  # reaches the budget while `waiting` is queued
    run_job.apply(args=[waiting.pk])
    waiting.refresh_from_db()
    assert waiting.status == Job.Status.REFUSED and waiting.error_code == "budget_exhausted"
    assert "budget of $0.05" in waiting.error
    budget.refresh_from_db()
    assert budget.spent == Decimal("0.05")


def test_an_alert_only_budget_never_stops(ocr_on, alice, acme):
    _budget(alice, acme, "0.01", action=Budget.Action.ALERT)
    _run(acme, alice, 5)
    forget_snapshots()
    assert budget_stop(acme, "ocr") is None
    assert _run(acme, alice, 1).status == Job.Status.SUCCEEDED


def test_raising_the_budget_lifts_the_stop_at_once(ocr_on, alice, acme):
    budget = _budget(alice, acme, "0.05")
    _run(acme, alice, 5)
    forget_snapshots()
    assert budget_stop(acme, "ocr") is not None
    actions.save_budget(alice, acme, capability="ocr", amount=Decimal("1.00"), budget=budget)
    assert budget_stop(acme, "ocr") is None  # the change announced itself: no wait
    assert _run(acme, alice, 1).status == Job.Status.SUCCEEDED


def test_a_new_period_lifts_the_stop(ocr_on, alice, acme):
    budget = _budget(alice, acme, "0.05")
    _run(acme, alice, 5)
    # The counters are last month's: this month nothing is spent yet.
    Budget.objects.filter(pk=budget.pk).update(period_start=datetime(2020, 1, 1, tzinfo=UTC).date())
    forget_snapshots()
    assert budget_stop(acme, "ocr") is None
    assert _run(acme, alice, 1).status == Job.Status.SUCCEEDED
    budget.refresh_from_db()
    assert budget.spent == Decimal("0.01")  # the new period's counter started from zero
    assert budget.period_start == budgets.period_start(datetime.now(UTC))


def test_the_total_budget_stops_every_capability(ocr_on, alice, acme):
    _budget(alice, acme, "0.02", capability=None)
    _run(acme, alice, 2)
    forget_snapshots()
    stop = budget_stop(acme, "summaries")
    assert stop is not None and stop.capability is None


def test_thresholds_alert_once_each(ocr_on, alice, acme, carol, django_capture_on_commit_callbacks):
    _budget(alice, acme, "0.10", thresholds=[50, 80, 100])
    with django_capture_on_commit_callbacks():
        _run(acme, alice, 5)  # 50 %
        _run(acme, alice, 1)  # 60 %: nothing new
        _run(acme, alice, 3)  # 90 %: 80 % crossed
    keys = sorted(Alert.objects.filter(organization=acme).values_list("key", flat=True))
    assert [key.split(":")[2] for key in keys] == ["50", "80"]
    budgets.recompute(acme)  # the safety net raises nothing twice
    assert Alert.objects.filter(organization=acme).count() == 2
    alert = Alert.objects.get(key__contains=":80:")
    assert alert.title == "80 % of the monthly budget for Text recognition used"
    assert "has spent $0.09 of its $0.10 budget" in alert.message


def test_reaching_a_stop_budget_says_what_stops(ocr_on, alice, acme):
    _budget(alice, acme, "0.05", thresholds=[100])
    _run(acme, alice, 6)
    alert = Alert.objects.get(organization=acme)
    assert alert.level == Alert.Level.DANGER
    assert alert.title == "The monthly budget for Text recognition is used up"
    assert "New jobs and metered API calls of Text recognition are stopped" in alert.message


def test_changes_are_audited(alice, acme):
    budget = _budget(alice, acme, "10.00")
    actions.save_budget(alice, acme, capability="ocr", amount=Decimal("20.00"), budget=budget)
    actions.delete_budget(alice, budget)
    entries = list(AuditEntry.objects.filter(action__startswith="budget.").order_by("at", "id"))
    assert [entry.action for entry in entries] == ["budget.created", "budget.changed", "budget.deleted"]
    changed = entries[1].details
    assert (changed["before"]["amount"], changed["after"]["amount"]) == ("10.00", "20.00")


def test_a_platform_cap_is_locked_for_the_organization(alice, acme, fiona, ivan):
    with pytest.raises(ActionError, match="Say why"):
        _budget(fiona, acme, "100.00", capability=None, platform=True)
    cap = _budget(fiona, acme, "100.00", capability=None, platform=True, reason="Unpaid invoices")
    with pytest.raises(ActionError) as refused:
        actions.save_budget(alice, acme, capability=None, amount=Decimal("500.00"), budget=cap)
    assert refused.value.code == "platform_cap_locked"
    with pytest.raises(ActionError):
        actions.delete_budget(alice, cap)
    with pytest.raises(ActionError):
        _budget(alice, acme, "5.00", platform=True, reason="mine")
    # The organization keeps a budget of its own beside the cap; IT admins can lift the cap.
    _budget(alice, acme, "50.00", capability=None)
    actions.delete_budget(ivan, cap)
    assert list(Budget.objects.filter(organization=acme).values_list("platform", flat=True)) == [False]


def test_one_budget_per_scope(alice, acme):
    _budget(alice, acme, "10.00")
    with pytest.raises(ActionError) as refused:
        _budget(alice, acme, "20.00")
    assert refused.value.code == "budget_exists"


@pytest.mark.parametrize(
    ("amount", "options", "code"),
    [
        ("-1.00", {}, "invalid_amount"),
        ("1.001", {}, "invalid_amount"),
        ("NaN", {}, "invalid_amount"),
        ("1e12", {}, "invalid_amount"),
        ("5.00", {"thresholds": [0, 50]}, "invalid_thresholds"),
        ("5.00", {"thresholds": [101]}, "invalid_thresholds"),
        ("5.00", {"action": "pause"}, "invalid_action"),
        ("5.00", {"capability": "teleport"}, "unknown_capability"),
    ],
)
def test_bad_input_is_refused(alice, acme, amount, options, code):
    with pytest.raises(ActionError) as refused:
        _budget(alice, acme, amount, **options)
    assert refused.value.code == code
    assert not Budget.objects.exists()


def test_statuses_show_spent_in_flight_and_remaining(ocr_on, alice, acme):
    _budget(alice, acme, "0.10")
    _run(acme, alice, 4)
    (status,) = budgets.statuses(acme)
    assert (status.spent, status.in_flight) == (Decimal("0.04"), Decimal(0))
    assert status.remaining == Decimal("0.06")
    assert status.state == budgets.State.OK
    assert status.spent_percent == 40


def test_the_switch_on_confirmation_says_what_budget_remains(alice, acme, client_for):
    _budget(alice, acme, "50.00", capability=None)
    page = client_for(alice).get("/capabilities/ocr/toggle/?enabled=1")
    assert page.status_code == 200
    text = " ".join(page.content.decode().split())
    assert "<strong>$50.00 left</strong> of the monthly budget of $50.00" in text
    assert "for all capabilities ($0.00 spent)." in text
    assert "New work stops when it is reached." in text


def test_the_confirmation_says_when_no_budget_covers_it(alice, acme, client_for):
    page = client_for(alice).get("/capabilities/ocr/toggle/?enabled=1")
    assert "No budget covers it:" in page.content.decode()
