"""Serializers of the tenancy API, and fields the other apps' APIs share."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.schema import FILE_PARTS
from portal.models import Organization


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "status", "created_at"]
        read_only_fields = fields


@extend_schema_field(FILE_PARTS)
class FilePartsField(serializers.ListField):
    """A multipart field repeated once per file, each a file part."""
