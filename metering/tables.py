"""Tables of the usage pages (django-tables2) over priced lines and corrections."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.safestring import SafeString

from metering import formatting, meter_prices
from metering.models import UsageEvent
from metering.queries.usage import UsageLine

NUMBER = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}


class UsageTable(tables.Table):
    capability = tables.Column(accessor="capability_title", verbose_name="Capability", footer="Total")
    meter = tables.Column()
    quantity = tables.Column(attrs=NUMBER)
    unit = tables.Column(orderable=False)
    unit_price = tables.Column(verbose_name="Unit price", attrs=NUMBER)
    cost = tables.Column(attrs=NUMBER, footer=lambda table: formatting.money_totals(table.totals))

    class Meta:
        attrs = {"class": "table usage-table"}
        empty_text = "No usage in this range."
        orderable = True

    def __init__(self, lines: list[UsageLine], *, totals: dict[str, Decimal], **kwargs: Any) -> None:
        self.totals = totals
        super().__init__(lines, **kwargs)

    def render_meter(self, value: str) -> SafeString:
        return format_html("<code>{}</code>", value)

    def render_quantity(self, value: int) -> str:
        return formatting.quantity(value)

    def render_unit_price(self, value: Decimal, record: UsageLine) -> str:
        return formatting.unit_price(value, record.currency)

    def render_cost(self, value: Decimal, record: UsageLine) -> str:
        # What the invoices say: the line rounded (or its organizations' lines, summed).
        return formatting.money(record.amount, record.currency)


class OrganizationUsageTable(tables.Table):
    """Rows of `metering.queries.finance.organization_lines`: ordered and paginated in the database."""

    organization = tables.Column(accessor="organization__name", verbose_name="Organization")
    slug = tables.Column(accessor="organization__slug", verbose_name="Slug")
    capability = tables.Column(verbose_name="Capability")
    meter = tables.Column(verbose_name="Meter")
    quantity = tables.Column(accessor="quantity_total", attrs=NUMBER)
    revenue = tables.Column(accessor="revenue", attrs=NUMBER, verbose_name="Est. revenue")

    class Meta:
        attrs = {"class": "table table-compact"}
        empty_text = "No usage matches these filters in this range."

    def render_capability(self, value: str, record: dict[str, Any]) -> str:
        return meter_prices.describe(value, record["meter"]).capability_title

    def render_meter(self, value: str) -> SafeString:
        return format_html("<code>{}</code>", value)

    def render_quantity(self, value: int) -> str:
        return formatting.quantity(value)

    def render_revenue(self, value: Decimal, record: dict[str, Any]) -> str:
        return formatting.money(value, record["currency"])


class CorrectionTable(tables.Table):
    recorded_at = tables.DateTimeColumn(verbose_name="Recorded", format="Y-m-d H:i")
    occurred_at = tables.DateTimeColumn(verbose_name="Applies to", format="Y-m-d")
    organization = tables.Column(accessor="organization__slug", verbose_name="Organization")
    meter = tables.Column(empty_values=(), verbose_name="Capability · meter", orderable=False)
    quantity = tables.Column(attrs=NUMBER)
    reason = tables.Column(orderable=False)
    created_by = tables.Column(accessor="created_by__email", verbose_name="By", default="—")

    class Meta:
        model = UsageEvent
        fields = ["recorded_at", "occurred_at", "organization", "meter", "quantity", "reason", "created_by"]
        attrs = {"class": "table table-compact"}
        empty_text = "No corrections yet."
        orderable = False

    def render_meter(self, record: UsageEvent) -> SafeString:
        return format_html("<code>{}.{}</code>", record.capability, record.meter)

    def render_quantity(self, value: int) -> str:
        return f"{value:+,}"
