"""The documents table (django-tables2)."""

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html

from capabilities.documents.models import Document


class DocumentTable(tables.Table):
    name = tables.Column(linkify=lambda record: reverse("documents:document", args=[record.pk]))
    kind = tables.Column(verbose_name="Type", accessor="declared_kind")
    size = tables.Column()
    page_count = tables.Column(verbose_name="Pages")
    status = tables.Column(accessor="job__status", default="queued")
    uploaded_at = tables.DateTimeColumn(verbose_name="Uploaded", format="Y-m-d H:i")
    uploaded_by = tables.Column(accessor="uploaded_by__email", verbose_name="By", default="API")

    class Meta:
        model = Document
        fields = ["name", "kind", "size", "page_count", "status", "uploaded_at", "uploaded_by"]
        attrs = {"class": "table"}
        empty_text = "No documents yet: upload some above."

    def render_kind(self, record: Document) -> str:
        return record.get_kind_display() if record.kind else record.get_declared_kind_display()

    def render_size(self, value: int) -> str:
        return filesizeformat(value)

    def render_status(self, record: Document) -> str:
        return format_html(
            '<span class="badge badge-job-{}" data-status="{}">{}</span>',
            record.status,
            record.status,
            record.job.get_status_display() if record.job else "Queued",
        )
