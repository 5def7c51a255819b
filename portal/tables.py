"""Tables of the IT admin pages (django-tables2)."""

import re

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from portal.models import AuditEntry, Organization


class OrganizationTable(tables.Table):
    name = tables.LinkColumn("manage:organization", args=[tables.A("slug")])
    slug = tables.Column()
    status = tables.Column()
    members = tables.Column(verbose_name="Members", orderable=True)
    created_at = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d")

    class Meta:
        model = Organization
        fields = ["name", "slug", "status", "members", "created_at"]
        attrs = {"class": "table"}
        empty_text = "No organization matches these filters."

    def render_status(self, value: str, record: Organization) -> str:
        return format_html('<span class="badge badge-{}">{}</span>', record.status, value)


class AuditTable(tables.Table):
    at = tables.DateTimeColumn(verbose_name="When", format="Y-m-d H:i:s", attrs={"td": {"class": "nowrap"}})
    actor_email = tables.Column(verbose_name="Who", default="system")
    organization = tables.Column(verbose_name="Organization", default="—")
    action = tables.Column()
    target_repr = tables.Column(verbose_name="Target", default="—", attrs={"td": {"class": "break"}})
    ip_address = tables.Column(verbose_name="From IP", default="—")
    details = tables.JSONColumn(orderable=False, json_dumps_kwargs={"sort_keys": True})

    class Meta:
        model = AuditEntry
        fields = ["at", "actor_email", "organization", "action", "target_repr", "ip_address", "details"]
        attrs = {"class": "table table-compact"}
        empty_text = "No audit entry matches these filters."

    def render_action(self, value: str) -> str:
        # May break after each dot or underscore (billing.<wbr>reconciliation_<wbr>started),
        # so the log fits its card without cutting a word anywhere else.
        pieces = re.split(r"(?<=[._])", value)
        return format_html(
            "<code>{}</code>", format_html_join(mark_safe("<wbr>"), "{}", ((piece,) for piece in pieces))
        )
