"""Tenancy endpoints of the REST API."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions

from portal.api.authentication import request_organizations
from portal.api.permissions import ActiveOrganization
from portal.api.serializers import OrganizationSerializer


@extend_schema(
    summary="List organizations",
    description=(
        "Platform staff and finance see every organization; a signed-in user sees "
        "the organizations they belong to; an API key sees its own organization."
    ),
)
class OrganizationList(generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = OrganizationSerializer
    permission_classes = [permissions.IsAuthenticated, ActiveOrganization]
    tenancy_opt_out = "platform staff and finance list every organization; a key only its own (active) one"

    def get_queryset(self) -> Any:
        return request_organizations(self.request).order_by("name")
