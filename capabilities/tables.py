"""Tables of the jobs pages (django-tables2)."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from capabilities.models import Job
from capabilities.registry import registry


class JobTable(tables.Table):
    id = tables.Column(verbose_name="Job", linkify=lambda record: reverse("job", args=[record.pk]))
    capability = tables.Column()
    kind = tables.Column(verbose_name="Kind · version")
    status = tables.Column()
    progress = tables.Column(empty_values=(), orderable=False)
    queued_at = tables.DateTimeColumn(
        verbose_name="Queued", format="Y-m-d H:i:s", attrs={"td": {"class": "nowrap"}}
    )
    requested_by = tables.Column(accessor="started_by", verbose_name="By", order_by=("requested_by__email",))

    class Meta:
        model = Job
        fields = ["id", "capability", "kind", "status", "progress", "queued_at", "requested_by"]
        attrs = {"class": "table"}
        empty_text = "No job matches these filters."

    def render_id(self, value: int) -> str:
        return f"#{value}"

    def render_capability(self, value: str) -> str:
        return registry().get(value).title if value in registry() else value

    def render_kind(self, value: str, record: Job) -> str:
        """The kind, and under it the version it ran with (a beta one says so)."""
        version = record.version
        capability = registry().known(record.capability)
        if not version:  # queued before versions: the capability's first
            version = capability.releases[0].number if capability is not None else ""
        beta = capability is not None and capability.is_beta(version)
        return format_html(
            '{}<br><span class="muted small">{}{}</span>',
            value,
            version,
            mark_safe(' <span class="badge badge-warn">Beta</span>') if beta else "",  # a constant
        )

    def render_status(self, value: str, record: Job) -> str:
        return format_html('<span class="badge badge-job-{}">{}</span>', record.status, value)

    def render_progress(self, record: Job) -> str:
        return format_html(
            '<progress max="100" value="{}" aria-label="Progress of job {}">{}%</progress>',
            record.percent,
            record.pk,
            record.percent,
        )
