"""Filters of the deliveries list (django-filter), shared by the page and the API."""

import django_filters

from capabilities.notifications.models import Channel, Delivery


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Delivery.Status.choices, empty_label="Any status")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="Any channel")

    class Meta:
        model = Delivery
        fields = ["status", "channel"]
