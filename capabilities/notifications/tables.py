"""Tables of the notifications pages (django-tables2)."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from capabilities.notifications.models import Delivery
from capabilities.registry import registry


class DeliveryTable(tables.Table):
    id = tables.Column(
        verbose_name="Delivery", linkify=lambda record: reverse("notifications:delivery", args=[record.pk])
    )
    created_at = tables.DateTimeColumn(
        verbose_name="Created", format="Y-m-d H:i:s", attrs={"td": {"class": "nowrap"}}
    )
    event = tables.Column()
    capability = tables.Column(
        accessor="payload__capability__key", verbose_name="Capability", orderable=False
    )
    channel = tables.Column()
    target = tables.Column(attrs={"td": {"class": "break"}})
    status = tables.Column()
    attempt_count = tables.Column(verbose_name="Attempts")
    last_error = tables.Column(verbose_name="Last error", orderable=False, attrs={"td": {"class": "break"}})

    class Meta:
        model = Delivery
        fields = [
            "id",
            "created_at",
            "event",
            "capability",
            "channel",
            "target",
            "status",
            "attempt_count",
            "last_error",
        ]
        attrs = {"class": "table"}
        empty_text = "No delivery matches these filters."

    def render_id(self, value: int) -> str:
        return f"#{value}"

    def render_capability(self, value: str) -> str:
        return registry().get(value).title if value in registry() else value

    def render_status(self, value: str, record: Delivery) -> str:
        return format_html('<span class="badge badge-delivery-{}">{}</span>', record.status, value)
