"""The daily deadline check: the framework's `contract_deadline_near` goes out
once a day per contract and deadline while it is near (never twice on a
re-run), and a Notifications rule "deadline within N days" emails once per
contract and deadline when N reaches the days left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from capabilities.actions import set_capability_enabled
from capabilities.contracts.actions import store_analysis
from capabilities.contracts.fields import Finding
from capabilities.contracts.models import DeadlineAnnouncement
from capabilities.contracts.tasks import announce_deadlines
from capabilities.documents.actions import upload_documents
from capabilities.gate import forget_snapshots
from capabilities.notifications import actions as notifications
from capabilities.notifications.models import Delivery, Rule
from capabilities.signals import contract_deadline_near
from portal.actions.errors import ActionError

pytestmark = pytest.mark.django_db

# The analysis schedules deadlines from today's date: the contracts here are
# made relative to it, and the check is run as of chosen days.
TODAY = timezone.localdate()


@pytest.fixture
def heard():
    """What the signal carried, in order."""
    calls: list[dict] = []

    def listen(sender, **kwargs):
        calls.append(kwargs)

    contract_deadline_near.connect(listen, dispatch_uid="test-heard")
    yield calls
    contract_deadline_near.disconnect(dispatch_uid="test-heard")


def _contract(organization, actor, name, deadline):
    [document] = upload_documents(actor, organization, [SimpleUploadedFile(name, b"terms")]).documents
    return store_analysis(
        document, Finding(is_contract=True, values={"auto_renews": True, "notice_deadline": deadline})
    )


def test_the_signal_goes_out_once_a_day_per_contract_and_deadline(contracts_on, alice, heard):
    near = _contract(contracts_on, alice, "near.txt", TODAY + timedelta(days=20))
    _contract(contracts_on, alice, "far.txt", TODAY + timedelta(days=400))
    _contract(contracts_on, alice, "passed.txt", TODAY - timedelta(days=1))

    assert announce_deadlines(TODAY) == 1
    assert announce_deadlines(TODAY) == 0  # a re-run the same day sends nothing
    [call] = heard
    assert call == {
        "signal": contract_deadline_near,
        "organization_id": contracts_on.pk,
        "capability": "contracts",
        "contract_id": near.pk,
        "document_name": "near.txt",
        "notice_deadline": TODAY + timedelta(days=20),
        "days_left": 20,
        "url": reverse("contracts:contract", args=[near.pk]),
    }
    assert announce_deadlines(TODAY + timedelta(days=1)) == 1
    assert heard[-1]["days_left"] == 19
    assert DeadlineAnnouncement.objects.filter(contract=near).count() == 2


def test_a_passed_deadline_of_a_renewing_contract_moves_to_the_running_term(contracts_on, alice, heard):
    [document] = upload_documents(
        alice, contracts_on, [SimpleUploadedFile("monthly.txt", b"terms")]
    ).documents
    expiry = TODAY - timedelta(days=40)
    contract = store_analysis(
        document,
        Finding(
            is_contract=True,
            values={
                "auto_renews": True,
                "renewal_term_months": 1,
                "expiry_date": expiry,
                "notice_period_days": 10,
                "notice_deadline": expiry - timedelta(days=10),
            },
        ),
    )
    assert contract.next_notice_deadline is not None
    assert TODAY <= contract.next_notice_deadline <= TODAY + timedelta(days=31)
    # A month later the daily check moves it to the next term's deadline.
    later = contract.next_notice_deadline + timedelta(days=1)
    announce_deadlines(later)
    contract.refresh_from_db()
    assert later <= contract.next_notice_deadline <= later + timedelta(days=31)
    assert heard[-1]["notice_deadline"] == contract.next_notice_deadline
    # The term running then is still the one whose deadline just passed (its
    # notice period is running): it ends 10 days after that deadline.
    assert contract.current_term_end == later - timedelta(days=1) + timedelta(days=10)


def test_nothing_is_announced_while_the_tracker_is_off(contracts_on, alice, heard):
    _contract(contracts_on, alice, "near.txt", TODAY + timedelta(days=5))
    set_capability_enabled(alice, contracts_on, "contracts", enabled=False)
    forget_snapshots()  # what the commit's version bump does
    assert announce_deadlines(TODAY) == 0 and heard == []


def test_a_rule_emails_once_when_the_deadline_is_within_n_days(contracts_on, alice, run_queued):
    set_capability_enabled(alice, contracts_on, "notifications", enabled=True)
    rule = notifications.create_rule(
        alice,
        contracts_on,
        capability="contracts",
        event=Rule.Event.DEADLINE_NEAR,
        within_days=30,
        channel="email",
        target="legal@acme.test",
    )
    job_rule = notifications.create_rule(
        alice, contracts_on, capability="contracts", event="both", channel="email", target="ops@acme.test"
    )
    contract = _contract(contracts_on, alice, "imaging.txt", TODAY + timedelta(days=45))

    announce_deadlines(TODAY)  # 45 days left: more than 30
    assert not Delivery.objects.exists()
    for days_left in (30, 29):
        announce_deadlines(TODAY + timedelta(days=45 - days_left))
    run_queued()

    [delivery] = Delivery.objects.filter(rule=rule)
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.event == "contract.deadline_near"
    assert delivery.payload["contract"]["days_left"] == 30
    assert delivery.payload["contract"]["url"] == reverse("contracts:contract", args=[contract.pk])
    # A job rule hears the analysis job, never the deadline.
    assert not Delivery.objects.filter(rule=job_rule, event="contract.deadline_near").exists()
    [email] = [message for message in mail.outbox if "legal@acme.test" in message.to]
    assert email.subject == "[Switchboard] Notice deadline in 30 days: imaging.txt"
    assert "give notice by then" in email.body


def test_a_deadline_rule_needs_its_number_of_days(contracts_on, alice):
    set_capability_enabled(alice, contracts_on, "notifications", enabled=True)
    for within_days in (None, 0, 400):
        with pytest.raises(ActionError, match="how many days before a notice deadline"):
            notifications.create_rule(
                alice,
                contracts_on,
                capability="contracts",
                event=Rule.Event.DEADLINE_NEAR,
                within_days=within_days,
                channel="email",
                target="legal@acme.test",
            )
    # A job rule keeps no number of days.
    rule = notifications.create_rule(
        alice,
        contracts_on,
        capability="contracts",
        event="failed",
        within_days=5,
        channel="email",
        target="a@acme.test",
    )
    assert rule.within_days is None


def test_a_deadline_rule_from_the_notifications_page(client_for, alice, contracts_on):
    set_capability_enabled(alice, contracts_on, "notifications", enabled=True)
    client = client_for(alice)
    form = {
        "capability": "contracts",
        "event": "deadline_near",
        "channel": "email",
        "target": "legal@acme.test",
    }
    refused = client.post(reverse("notifications:rule_create"), form)
    assert "Say how many days before a notice deadline to notify." in refused.content.decode()
    client.post(reverse("notifications:rule_create"), {**form, "within_days": "60"})
    rule = Rule.objects.get()
    assert (rule.event, rule.within_days) == ("deadline_near", 60)
    page = client.get(reverse("notifications:index")).content.decode()
    assert "Has a contract notice deadline within 60 days" in page


def test_the_rules_api_takes_within_days(client_for, alice, contracts_on):
    set_capability_enabled(alice, contracts_on, "notifications", enabled=True)
    client = client_for(alice)
    url = reverse("notifications-api:rule-list")
    body = {"capability": "contracts", "event": "deadline_near", "channel": "email", "target": "l@acme.test"}
    assert client.post(url, body, content_type="application/json").status_code == 400
    created = client.post(url, {**body, "within_days": 14}, content_type="application/json")
    assert created.status_code == 201 and created.json()["within_days"] == 14
