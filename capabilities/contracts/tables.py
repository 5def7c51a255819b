"""The contracts table (django-tables2): the next notice deadline first."""

from __future__ import annotations

from datetime import date

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from capabilities.contracts.models import Contract


def months_text(months: int | None) -> str:
    if months is None:
        return "—"
    if months % 12 == 0:
        years = months // 12
        return f"{years} year{'s' if years != 1 else ''}"
    return f"{months} month{'s' if months != 1 else ''}"


class ContractTable(tables.Table):
    document = tables.Column(
        verbose_name="Contract",
        accessor="document__name",
        linkify=lambda record: reverse("contracts:contract", args=[record.pk]),
        orderable=False,
    )
    parties = tables.Column(orderable=False, default="—")
    next_notice_deadline = tables.Column(verbose_name="Next notice deadline", orderable=False)
    current_term_end = tables.Column(verbose_name="Term ends", orderable=False, default="—")
    auto_renews = tables.Column(verbose_name="Renews", orderable=False, default="—")
    notice_period_days = tables.Column(verbose_name="Notice", orderable=False, default="—")
    governing_law = tables.Column(verbose_name="Law", orderable=False, default="—")

    class Meta:
        model = Contract
        fields = [
            "document",
            "parties",
            "next_notice_deadline",
            "current_term_end",
            "auto_renews",
            "notice_period_days",
            "governing_law",
        ]
        attrs = {"class": "table", "id": "contracts-table"}
        orderable = False

    def render_parties(self, value: list[str]) -> str:
        return " · ".join(value) if value else "—"

    def render_next_notice_deadline(self, value: date | None) -> str:
        if value is None:
            return "—"
        days = (value - timezone.localdate()).days
        tone = "bad" if 0 <= days <= 30 else "warn" if 0 <= days <= 90 else "muted"
        when = "passed" if days < 0 else "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        return format_html(
            '<time datetime="{}">{}</time> <span class="badge badge-{}">{}</span>',
            value.isoformat(),
            value.isoformat(),
            tone,
            when,
        )

    def render_current_term_end(self, record: Contract) -> str:
        """The end of the term running now; once it renewed, the first term's
        end beside it (the detail page has both, with their citations)."""
        end = record.current_term_end
        if end is None:
            return "—"
        if record.expiry_date is None or end == record.expiry_date:
            return format_html('<time datetime="{}">{}</time>', end.isoformat(), end.isoformat())
        return format_html(
            '<time datetime="{}">{}</time><br><span class="muted small">renewed; first term ended {}</span>',
            end.isoformat(),
            end.isoformat(),
            record.expiry_date.isoformat(),
        )

    def render_auto_renews(self, record: Contract) -> str:
        if record.auto_renews is None:
            return "—"
        if not record.auto_renews:
            return "No"
        return f"Yes, {months_text(record.renewal_term_months)}" if record.renewal_term_months else "Yes"

    def render_notice_period_days(self, value: int) -> str:
        return f"{value} day{'s' if value != 1 else ''}"
