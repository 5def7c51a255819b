"""Capability requests API: list and ask (`/capability-requests/`), approve
and decline (`/capability-requests/{id}/approve`, `…/decline`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capabilities.approvals import actions, queries
from capabilities.approvals.api.serializers import (
    CapabilityRequestSerializer,
    DecisionSerializer,
    NewRequestSerializer,
)
from capabilities.approvals.models import CapabilityRequest
from portal.actions.errors import ActionError
from portal.api.authentication import request_actor, request_role
from portal.api.idempotency import idempotent
from portal.api.permissions import OrganizationMember, organization_of, require_role
from portal.audit import origin_of
from portal.models import MANAGING_ROLES

# Refusals that are about the state of things, not the input: 409.
CONFLICTS = {
    "already_requested",
    "already_in_state",
    "capability_locked",
    "no_approval_needed",
    "already_decided",
    "request_expired",
    "dependencies_disabled",
    "dependents_enabled",
}
FORBIDDEN = {"own_request", "manager_required", "not_a_member"}


class Refused(exceptions.APIException):
    def __init__(self, refusal: ActionError) -> None:
        if refusal.code in FORBIDDEN:
            self.status_code = status.HTTP_403_FORBIDDEN
        elif refusal.code in CONFLICTS:
            self.status_code = status.HTTP_409_CONFLICT
        else:
            self.status_code = status.HTTP_400_BAD_REQUEST
        super().__init__(refusal.message, code=refusal.code)


STATUS_FILTER = OpenApiParameter(
    "status",
    OpenApiTypes.STR,
    enum=[queries.PENDING, queries.DECIDED],
    description="`pending` (waiting for a decision) or `decided` (approved, declined, expired); "
    "all when absent.",
)


class CapabilityRequestList(generics.ListCreateAPIView):
    """Owners and admins (a `manage` key) see every request of the
    organization; others see their own."""

    serializer_class = CapabilityRequestSerializer
    permission_classes = [IsAuthenticated, OrganizationMember]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return CapabilityRequest.objects.none()
        organization = organization_of(self.request)
        rows = CapabilityRequest.objects.filter(organization=organization).select_related(
            "requested_by", "decided_by"
        )
        if request_role(self.request) not in MANAGING_ROLES:
            rows = rows.filter(requested_by=request_actor(self.request))
        wanted = self.request.query_params.get("status")
        if wanted is None:
            return rows
        if wanted not in (queries.PENDING, queries.DECIDED):
            raise exceptions.ValidationError(
                {"status": ["Use `pending` or `decided`."]}, code="invalid_status"
            )
        return queries.filtered(rows, wanted)

    @extend_schema(summary="List capability requests", parameters=[STATUS_FILTER])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Ask for a capability to be switched",
        description="A member asks the owners and admins (emailed) to switch a capability; an owner or "
        "admin asks when the approval policy holds their switch-on (`PUT …/toggle` answered "
        "`approval_required`).",
        request=NewRequestSerializer,
        responses={
            201: CapabilityRequestSerializer,
            400: OpenApiResponse(description="Unknown capability, or no reason"),
            409: OpenApiResponse(
                description="`already_requested`, `already_in_state`, `capability_locked`, or "
                "`no_approval_needed` (an owner or admin switches it themselves)"
            ),
        },
    )
    @idempotent
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = NewRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            made = actions.request_capability(
                request_actor(request),
                organization_of(request),
                payload.validated_data["capability"],
                reason=payload.validated_data["reason"],
                enabled=payload.validated_data["enabled"],
                origin=origin_of(request),
            )
        except ActionError as refusal:
            raise Refused(refusal) from None
        return Response(CapabilityRequestSerializer(made).data, status=status.HTTP_201_CREATED)


def _request_of(request: Request, request_id: int) -> CapabilityRequest:
    found = queries.request_of(organization_of(request), request_id)
    if found is None:
        raise exceptions.NotFound("No such request")
    return found


DECISION_RESPONSES = {
    200: CapabilityRequestSerializer,
    403: OpenApiResponse(
        description="`own_request` (another owner or admin decides), or not an owner or admin"
    ),
    404: OpenApiResponse(description="No such request in the caller's organization"),
    409: OpenApiResponse(
        description="`already_decided`, `request_expired`, or the switch can't be carried out "
        "(`capability_locked`, …; the request stays pending)"
    ),
}


class CapabilityRequestApprove(APIView):
    permission_classes = [IsAuthenticated, OrganizationMember]

    @extend_schema(
        summary="Approve a request: the capability is switched at once",
        request=DecisionSerializer,
        responses=DECISION_RESPONSES,
    )
    @idempotent
    def post(self, request: Request, request_id: int) -> Response:
        return _decide(request, request_id, approve=True)


class CapabilityRequestDecline(APIView):
    permission_classes = [IsAuthenticated, OrganizationMember]

    @extend_schema(summary="Decline a request", request=DecisionSerializer, responses=DECISION_RESPONSES)
    @idempotent
    def post(self, request: Request, request_id: int) -> Response:
        return _decide(request, request_id, approve=False)


def _decide(request: Request, request_id: int, *, approve: bool) -> Response:
    found = _request_of(request, request_id)
    require_role(request, MANAGING_ROLES, "Only owners and admins decide on requests.")
    payload = DecisionSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    note = payload.validated_data["note"]
    try:
        if approve:
            actions.approve_request(request_actor(request), found, note=note, origin=origin_of(request))
        else:
            actions.decline_request(request_actor(request), found, note=note, origin=origin_of(request))
    except ActionError as refusal:
        if refusal.code not in FORBIDDEN and refusal.code not in {"already_decided", "request_expired"}:
            # The switch itself was refused: always a conflict with the state of things.
            exception = Refused(refusal)
            exception.status_code = status.HTTP_409_CONFLICT
            raise exception from None
        raise Refused(refusal) from None
    found.refresh_from_db()
    return Response(CapabilityRequestSerializer(found).data)
