"""Serializers of the tenancy API."""

from rest_framework import serializers

from portal.models import Organization


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "status", "created_at"]
        read_only_fields = fields
