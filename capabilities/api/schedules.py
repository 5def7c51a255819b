"""Scheduled switches API: a capability's schedules, scheduling a switch, and
cancelling one (see capabilities/schedules.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capabilities import actions, schedules
from capabilities.api.serializers import ScheduleRequestSerializer, ScheduleSerializer
from capabilities.api.views import Conflict, _installed
from capabilities.models import ScheduledSwitch
from portal.actions.errors import ActionError
from portal.api.authentication import request_actor
from portal.api.permissions import OrganizationMember, organization_of
from portal.audit import origin_of


class CapabilitySchedules(APIView):
    permission_classes = [IsAuthenticated, OrganizationMember]
    managing_roles_for = {"POST"}

    @extend_schema(
        summary="A capability's scheduled switches",
        description="Pending, applied, failed and cancelled, latest moment first.",
        responses={
            200: ScheduleSerializer(many=True),
            404: OpenApiResponse(description="No such capability"),
        },
    )
    def get(self, request: Request, key: str) -> Response:
        _installed(key)
        rows = schedules.of_organization(organization_of(request), key)
        return Response(ScheduleSerializer(rows, many=True).data)

    @extend_schema(
        summary="Schedule a switch",
        description="Switch the capability on or off at `at`, or at the end of the billing period "
        "(`end_of_period`). Beat applies it within a minute of that moment, as a manual switch by the "
        "caller would be (locks and the dependency rule apply); if it can no longer be applied it is "
        "marked `failed` with the reason and its author is emailed.",
        request=ScheduleRequestSerializer,
        responses={
            201: ScheduleSerializer,
            400: OpenApiResponse(
                description="A moment in the past (`moment_in_past`) or over a year ahead "
                "(`moment_too_far`), an unknown time zone, or a switch to the state it will already "
                "be in (`already_in_state`)"
            ),
            403: OpenApiResponse(description="Not an owner or admin"),
            404: OpenApiResponse(description="No such capability"),
            409: OpenApiResponse(description="`capability_locked`: an IT admin locked it"),
        },
    )
    def post(self, request: Request, key: str) -> Response:
        _installed(key)
        payload = ScheduleRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            schedule = schedules.schedule_switch(
                request_actor(request),
                organization_of(request),
                key,
                origin=origin_of(request),
                **payload.validated_data,
            )
        except actions.CapabilityLocked as locked:
            raise Conflict(locked.message, code=locked.code) from None
        except ActionError as refusal:
            raise exceptions.ValidationError({"detail": refusal.message}, code=refusal.code) from None
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class CapabilityScheduleDetail(APIView):
    permission_classes = [IsAuthenticated, OrganizationMember]
    managing_roles_for = {"DELETE"}

    def _schedule(self, request: Request, key: str, schedule_id: int) -> ScheduledSwitch:
        _installed(key)
        schedule = (
            ScheduledSwitch.objects.select_related("organization", "created_by")
            .filter(organization=organization_of(request), capability_key=key, pk=schedule_id)
            .first()
        )
        if schedule is None:
            raise exceptions.NotFound("No such scheduled switch")
        return schedule

    @extend_schema(summary="A scheduled switch", responses={200: ScheduleSerializer})
    def get(self, request: Request, key: str, schedule_id: int) -> Response:
        return Response(ScheduleSerializer(self._schedule(request, key, schedule_id)).data)

    @extend_schema(
        summary="Cancel a scheduled switch",
        description="Only a pending one; it stays in the list as `cancelled`.",
        request=None,
        responses={
            200: ScheduleSerializer,
            404: OpenApiResponse(description="No such scheduled switch (also another organization's)"),
            409: OpenApiResponse(description="`not_pending`: it was applied, failed or cancelled already"),
        },
    )
    def delete(self, request: Request, key: str, schedule_id: int) -> Response:
        schedule = self._schedule(request, key, schedule_id)
        try:
            schedule = schedules.cancel_schedule(request_actor(request), schedule, origin=origin_of(request))
        except ActionError as refusal:
            raise Conflict(refusal.message, code=refusal.code) from None
        return Response(ScheduleSerializer(schedule).data)
