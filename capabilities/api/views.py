"""Capabilities API: the catalog with this organization's state, switching
capabilities, and their history."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capabilities import actions, queries
from capabilities.api.serializers import (
    CapabilitySerializer,
    ToggleChangeSerializer,
    ToggleRequestSerializer,
    ToggleResultSerializer,
)
from capabilities.registry import registry
from portal.actions import ActionError, Origin
from portal.api.authentication import request_actor
from portal.api.permissions import OrganizationMember, organization_of


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _installed(key: str) -> None:
    if key not in registry():
        raise Http404("No such capability")


@extend_schema(
    summary="List capabilities",
    description="Every installed capability with its meters, default "
    "prices and whether it is enabled and locked for the caller's organization.",
)
class CapabilityList(generics.GenericAPIView):
    serializer_class = CapabilitySerializer
    permission_classes = [IsAuthenticated, OrganizationMember]
    pagination_class = None

    def get(self, request: Request) -> Response:
        entries = queries.catalog(organization_of(request))
        return Response(CapabilitySerializer(entries, many=True).data)


class CapabilityToggle(APIView):
    permission_classes = [IsAuthenticated, OrganizationMember]
    managing_roles_for = {"PUT"}

    @extend_schema(
        summary="Switch a capability on or off",
        request=ToggleRequestSerializer,
        responses={
            200: ToggleResultSerializer,
            403: OpenApiResponse(description="Not an owner or admin"),
            409: OpenApiResponse(
                description="Locked (`capability_locked`) or the dependency rule needs other "
                "capabilities switched (`dependencies_disabled`, `dependents_enabled`, with "
                "`related`); resend with `include_related: true`"
            ),
        },
    )
    def put(self, request: Request, key: str) -> Response:
        _installed(key)
        payload = ToggleRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization = organization_of(request)
        try:
            result = actions.set_capability_enabled(
                request_actor(request),
                organization,
                key,
                enabled=payload.validated_data["enabled"],
                reason=payload.validated_data["reason"],
                include_related=payload.validated_data["include_related"],
                origin=Origin(ip_address=request.META.get("REMOTE_ADDR")),
            )
        except actions.DependencyConflict as conflict:
            return Response(
                {"detail": conflict.message, "code": conflict.code, "related": conflict.others},
                status=status.HTTP_409_CONFLICT,
            )
        except actions.CapabilityLocked as locked:
            raise Conflict(locked.message, code=locked.code) from None
        except ActionError as refusal:
            raise exceptions.ValidationError({"detail": refusal.message}, code=refusal.code) from None
        entry = queries.catalog_entry(organization, key)
        return Response(ToggleResultSerializer({"changed": result.changed, "capability": entry}).data)


@extend_schema(
    summary="History of a capability's toggle", description="Who switched it, when and why, newest first."
)
class CapabilityHistory(generics.ListAPIView):
    serializer_class = ToggleChangeSerializer
    permission_classes = [IsAuthenticated, OrganizationMember]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        key = self.kwargs["key"]
        _installed(key)
        return queries.history(organization_of(self.request), key)
