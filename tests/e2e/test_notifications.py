"""Alice (owner) sets a rule: when a Text recognition job succeeds, call a
webhook (a local receiver). With a real worker, an ocr job finishes and the
webhook arrives signed; she sees the delivery and its attempt, then uses
“Test send” and watches that delivery turn delivered on its page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from capabilities.actions import set_capability_enabled, start_job
from capabilities.notifications import channels
from capabilities.notifications.models import Delivery, Rule
from tests.capabilities.notifications.receiver import webhook_receiver
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_DEADLINE = 90  # seconds for the worker to start and run the jobs; a deadline, not a speed check


def test_alice_sets_a_webhook_rule_and_sees_it_delivered(page: Page, sign_in, alice, acme):
    set_capability_enabled(alice, acme, "ocr", enabled=True)
    set_capability_enabled(alice, acme, "notifications", enabled=True)

    with webhook_receiver([200]) as receiver:
        sign_in(page, "alice@acme.test")
        page.goto("/c/notifications/")
        expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
        expect(page.get_by_text("No rules yet")).to_be_visible()

        # A bad address first: the form says what is wrong and keeps her input.
        page.get_by_label("When a job of").select_option("ocr")
        page.get_by_label("Finishes and").select_option("succeeded")
        page.get_by_label("Notify by").select_option("webhook")
        page.get_by_label("Email address or webhook URL").fill("hooks.example.com")
        page.get_by_role("button", name="Save rule").click()
        expect(page.get_by_text("is not a valid webhook URL")).to_be_visible()

        page.get_by_label("Email address or webhook URL").fill(receiver.url)
        page.get_by_role("button", name="Save rule").click()
        expect(page.locator(".flash")).to_contain_text("The rule is saved.")
        rule = Rule.objects.get(organization=acme)
        row = page.locator(f"#rules tr[data-rule='{rule.pk}']")
        expect(row).to_contain_text("Text recognition")
        expect(row).to_contain_text(receiver.url)
        expect(row).to_contain_text(rule.secret)

        with celery_worker(queues="cap.ocr,cap.notifications"):
            job = start_job(alice, acme, "ocr", kind="recognize", job_input={"pages": 1})
            wait_for(lambda: len(receiver.received) == 1, WORKER_DEADLINE, "the webhook")
            wait_for(
                lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).exists(),
                WORKER_DEADLINE,
                "the delivery to be recorded",
            )
            call = receiver.received[0]
            assert channels.verify(rule.secret, call.headers[channels.SIGNATURE_HEADER], call.body)

            page.get_by_role("link", name="Deliveries").click()
            expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()
            delivery = Delivery.objects.get(source_job=job)
            expect(page.locator("#delivery-table")).to_contain_text("job.succeeded")
            page.get_by_role("link", name=f"#{delivery.pk}").click()
            expect(page.locator("#delivery-status [data-status]")).to_have_attribute(
                "data-status", "delivered"
            )
            attempts = page.locator("#attempts tbody tr")
            expect(attempts).to_have_count(1)
            expect(attempts.first).to_contain_text("200")
            expect(page.get_by_role("link", name=f"job #{job.pk}")).to_be_visible()

            # Test send from the rules page: the delivery page follows it live.
            page.goto("/c/notifications/")
            row.get_by_role("button", name="Test send").click()
            expect(page).to_have_url(re.compile(r"/c/notifications/deliveries/\d+/$"))
            expect(page.locator(".flash")).to_contain_text(f"Test message queued to {receiver.url}")
            expect(page.locator("#delivery-status [data-status]")).to_have_attribute(
                "data-status", "delivered", timeout=WORKER_DEADLINE * 1000
            )
            expect(page.locator("#attempts tbody tr")).to_have_count(1)
    assert [received.headers[channels.EVENT_HEADER] for received in receiver.received] == [
        "job.succeeded",
        "test",
    ]
