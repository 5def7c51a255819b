"""Tables of the billing pages (django-tables2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.models import Invoice, ReconciliationLine, ReconciliationRun, WebhookEvent
from metering import formatting

NUMBER = {"th": {"class": "num"}, "td": {"class": "num"}}
STATUS_BADGE = {
    "paid": "ok",
    "open": "warn",
    "draft": "muted",
    "void": "muted",
    "uncollectible": "bad",
    "matched": "ok",
    "missing": "bad",
    "excess": "bad",
    "unexplained": "bad",
    "settling": "muted",
    "unavailable": "warn",
    "partial": "warn",
    "done": "ok",
    "running": "warn",
    "queued": "muted",
    "failed": "bad",
}


def badge(value: str, label: str) -> SafeString:
    return format_html('<span class="badge badge-{}">{}</span>', STATUS_BADGE.get(value, "muted"), label)


def cents(amount: int, currency: str) -> str:
    return formatting.money(Decimal(amount) / 100, currency)


class InvoiceTable(tables.Table):
    number = tables.Column(verbose_name="Invoice", empty_values=())
    period = tables.Column(empty_values=(), orderable=False, accessor="period_start")
    status = tables.Column()
    total = tables.Column(attrs=NUMBER)
    amount_remaining = tables.Column(verbose_name="Still due", attrs=NUMBER)
    link = tables.Column(empty_values=(), orderable=False, verbose_name="")

    class Meta:
        model = Invoice
        fields = ["number", "period", "status", "total", "amount_remaining", "link"]
        attrs = {"class": "table"}
        empty_text = "No invoices yet: the first one is drawn up when the current billing period ends."

    def render_number(self, record: Invoice) -> str:
        return record.number or record.stripe_invoice_id

    def render_period(self, record: Invoice) -> str:
        if not record.period_start or not record.period_end:
            return "—"
        return f"{record.period_start:%d %b %Y} \u2013 {record.period_end:%d %b %Y}"

    def render_status(self, record: Invoice) -> SafeString:
        label = (
            "Payment failed" if record.status == "open" and record.attempt_count else record.status.title()
        )
        return badge("uncollectible" if label == "Payment failed" else record.status, label)

    def render_total(self, record: Invoice) -> str:
        return cents(record.total, record.currency)

    def render_amount_remaining(self, record: Invoice) -> str:
        return cents(record.amount_remaining, record.currency)

    def render_link(self, record: Invoice) -> SafeString | str:
        if not record.hosted_invoice_url:
            return ""
        return format_html(
            '<a href="{}" rel="noopener" target="_blank">View on Stripe</a>', record.hosted_invoice_url
        )


class RunTable(tables.Table):
    id = tables.Column(
        verbose_name="Run", linkify=lambda record: reverse("billing_reconciliation", args=[record.pk])
    )
    period_start = tables.Column(verbose_name="Period")
    status = tables.Column()
    created_at = tables.DateTimeColumn(verbose_name="Started", format="d M Y H:i")
    matched = tables.Column(attrs=NUMBER)
    missing = tables.Column(attrs=NUMBER)
    excess = tables.Column(attrs=NUMBER)
    unexplained = tables.Column(attrs=NUMBER)
    unavailable = tables.Column(verbose_name="Unavailable", attrs=NUMBER)
    api_calls = tables.Column(verbose_name="Stripe calls", attrs=NUMBER)
    triggered_by = tables.Column(
        verbose_name="By", default="Daily schedule", attrs={"td": {"class": "break"}}
    )

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "period_start",
            "status",
            "created_at",
            "matched",
            "missing",
            "excess",
            "unexplained",
            "unavailable",
            "api_calls",
            "triggered_by",
        ]
        attrs = {"class": "table"}
        empty_text = "No reconciliation has run yet. Start one above, or wait for the daily run."

    def render_id(self, value: int) -> str:
        return f"#{value}"

    def render_period_start(self, value: Any) -> str:
        return f"{value:%B %Y}"

    def render_status(self, record: ReconciliationRun) -> SafeString:
        return badge(record.status, record.get_status_display())

    def render_triggered_by(self, value: Any) -> str:
        return str(value.email)


class LineTable(tables.Table):
    day = tables.DateColumn(format="d M Y")
    organization = tables.Column(accessor="organization__name")
    capability = tables.Column()
    meter = tables.Column()
    local_quantity = tables.Column(verbose_name="Switchboard", attrs=NUMBER)
    stripe_quantity = tables.Column(verbose_name="Stripe", attrs=NUMBER, default="not read")
    difference = tables.Column(empty_values=(), orderable=False, attrs=NUMBER)
    status = tables.Column()
    action = tables.Column(verbose_name="Action taken")
    detail = tables.Column(orderable=False)

    class Meta:
        model = ReconciliationLine
        fields = [
            "day",
            "organization",
            "capability",
            "meter",
            "local_quantity",
            "stripe_quantity",
            "difference",
            "status",
            "action",
            "detail",
        ]
        attrs = {"class": "table"}
        empty_text = "No lines: no usage and nothing on Stripe for this period and filter."

    def render_meter(self, value: str) -> SafeString:
        return format_html("<code>{}</code>", value)

    def render_local_quantity(self, value: int) -> str:
        return formatting.quantity(value)

    def render_stripe_quantity(self, value: int) -> str:
        return formatting.quantity(value)

    def render_difference(self, record: ReconciliationLine) -> str:
        if record.difference is None:
            return "—"
        return f"{record.difference:+,}" if record.difference else "0"

    def render_status(self, record: ReconciliationLine) -> SafeString:
        return badge(record.status, record.get_status_display())

    def render_action(self, record: ReconciliationLine) -> str:
        return record.get_action_display()


class WebhookEventTable(tables.Table):
    received_at = tables.DateTimeColumn(verbose_name="Received", format="d M Y H:i:s")
    type = tables.Column()
    organization = tables.Column(accessor="organization__name", default="—")
    stripe_event_id = tables.Column(verbose_name="Event", attrs={"td": {"class": "break"}})
    outcome = tables.Column(orderable=False)

    class Meta:
        model = WebhookEvent
        fields = ["received_at", "type", "organization", "stripe_event_id", "status", "outcome"]
        attrs = {"class": "table"}
        empty_text = "No Stripe events received yet. Stripe sends them to /billing/stripe/webhook/."

    def render_type(self, value: str) -> SafeString:
        return format_html("<code>{}</code>", value)
