"""Capabilities API: the catalog with this organization's state, switching
capabilities, and their history."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capabilities import actions, is_enabled, queries, releases
from capabilities.api.permissions import BudgetExhaustedError, CapabilityDisabledError
from capabilities.api.serializers import (
    CapabilitySerializer,
    ChannelRequestSerializer,
    HistoryEntrySerializer,
    JobRequestSerializer,
    JobSerializer,
    ToggleRequestSerializer,
    ToggleResultSerializer,
)
from capabilities.gate import budget_stop
from capabilities.job_context import JobInputInvalid, clean_input
from capabilities.models import Job, ToggleChange
from capabilities.registry import registry
from metering import api_calls
from portal.actions.errors import ActionError
from portal.api.authentication import ApiKeyClient, request_actor
from portal.api.filters import FilterBackend, MomentFilter
from portal.api.idempotency import idempotent
from portal.api.permissions import OrganizationMember, organization_of, require_role
from portal.audit import origin_of
from portal.models import USING_ROLES


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _installed(key: str) -> None:
    if key not in registry():
        raise exceptions.NotFound("No such capability")


@extend_schema(
    summary="List capabilities",
    description="Every installed capability with its meters, default "
    "prices, whether it is enabled and locked for the caller's organization, and "
    "what it would cost the organization a month (`estimate`).",
    responses={200: CapabilitySerializer(many=True)},
)
class CapabilityList(generics.GenericAPIView):
    serializer_class = CapabilitySerializer
    permission_classes = [IsAuthenticated, OrganizationMember]
    pagination_class = None

    def get(self, request: Request) -> Response:
        organization = organization_of(request)
        entries = queries.catalog(organization)
        context = {"estimates": queries.estimates(organization)}
        return Response(CapabilitySerializer(entries, many=True, context=context).data)


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
                "`related`); resend with `include_related: true`. `approval_required`: the "
                "organization's approval policy holds this switch-on for a second person; ask with "
                "`POST /api/v1/capability-requests/`"
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
                origin=origin_of(request),
            )
        except actions.DependencyConflict as conflict:
            return Response(
                {"detail": conflict.message, "code": conflict.code, "related": conflict.others},
                status=status.HTTP_409_CONFLICT,
            )
        except actions.CapabilityLocked as locked:
            raise Conflict(locked.message, code=locked.code) from None
        except actions.ApprovalRequired as held:
            return Response(
                {
                    "detail": held.message,
                    "code": held.code,
                    "why": held.why,
                    "request_with": "/api/v1/capability-requests/",
                },
                status=status.HTTP_409_CONFLICT,
            )
        except ActionError as refusal:
            raise exceptions.ValidationError({"detail": refusal.message}, code=refusal.code) from None
        entry = queries.catalog_entry(organization, key)
        context = {"estimates": {key: queries.estimate(organization, key)}}
        return Response(
            ToggleResultSerializer({"changed": result.changed, "capability": entry}, context=context).data
        )


class CapabilityChannel(APIView):
    permission_classes = [IsAuthenticated, OrganizationMember]
    managing_roles_for = {"PUT"}

    @extend_schema(
        summary="Choose a capability's channel",
        description="`beta` runs the capability's newest beta version for the organization's new jobs "
        "(jobs already queued keep the version they were queued with); `stable` goes back. Owners and "
        "admins. Audited, and shown in the capability's history.",
        request=ChannelRequestSerializer,
        responses={
            200: CapabilitySerializer,
            400: OpenApiResponse(description="Not a channel, or `no_beta_version`: it has no beta now"),
            403: OpenApiResponse(description="Not an owner or admin"),
            409: OpenApiResponse(description="`version_pinned`: an IT admin pinned a version"),
        },
    )
    def put(self, request: Request, key: str) -> Response:
        _installed(key)
        payload = ChannelRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization = organization_of(request)
        try:
            releases.set_channel(
                request_actor(request),
                organization,
                key,
                payload.validated_data["channel"],
                origin=origin_of(request),
            )
        except ActionError as refusal:
            if refusal.code == "version_pinned":
                raise Conflict(refusal.message, code=refusal.code) from None
            raise exceptions.ValidationError({"channel": [refusal.message]}, code=refusal.code) from None
        entry = queries.catalog_entry(organization, key)
        context = {"estimates": {key: queries.estimate(organization, key)}}
        return Response(CapabilitySerializer(entry, context=context).data)


@extend_schema(
    summary="History of a capability",
    description="Every change of the capability for the organization, newest first: who switched it "
    "on or off (`kind` `toggle`) or changed the channel or the pinned version it runs (`kind` "
    "`release`), when and why.",
)
class CapabilityHistory(generics.ListAPIView):
    serializer_class = HistoryEntrySerializer
    permission_classes = [IsAuthenticated, OrganizationMember]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return ToggleChange.objects.none()
        key = self.kwargs["key"]
        _installed(key)
        return queries.change_history(organization_of(self.request), key)


class JobFilter(django_filters.FilterSet):
    capability = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=Job.Status.choices)
    since = MomentFilter(field_name="queued_at", lookup_expr="gte", help_text="Jobs queued at or after this.")
    until = MomentFilter(field_name="queued_at", lookup_expr="lt", help_text="Jobs queued before this.")

    class Meta:
        model = Job
        fields = ["capability", "status", "since", "until"]


class JobListCreate(generics.ListCreateAPIView):
    permission_classes = [IsAuthenticated, OrganizationMember]
    managing_roles_for: set[str] = set()
    serializer_class = JobSerializer
    filter_backends = [FilterBackend]
    filterset_class = JobFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema without a caller
            return Job.objects.none()
        return Job.objects.filter(organization=organization_of(self.request)).select_related("requested_by")

    @extend_schema(summary="List jobs", description="The organization's jobs, newest first, with filters.")
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a job",
        request=JobRequestSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(description="Unknown capability or job kind, or invalid input"),
            402: OpenApiResponse(
                description="`budget_exhausted`: a reached stop budget covers the capability"
            ),
            403: OpenApiResponse(description="`capability_disabled`, or a billing user"),
        },
    )
    @idempotent
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        payload = JobRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        key = payload.validated_data["capability"]  # an installed one (a choice)
        api_calls.attribute(request, key)
        require_role(request, USING_ROLES, "Billing users can read usage but not start jobs.")
        organization = organization_of(request)
        if not is_enabled(organization, key):  # refused before its input is looked at
            raise CapabilityDisabledError(registry().get(key), queries.lock_off(organization, key))
        stop = budget_stop(organization, key)
        if stop is not None:
            raise BudgetExhaustedError(stop, registry().get(key))
        try:
            job_input = clean_input(
                organization, key, payload.validated_data["kind"], payload.validated_data["input"]
            )
        except LookupError as unknown:
            raise exceptions.ValidationError({"kind": [str(unknown)]}, code="unknown_job_kind") from None
        except JobInputInvalid as invalid:
            raise exceptions.ValidationError({"input": invalid.errors}) from None
        try:
            job = actions.start_job(
                request_actor(request) if not isinstance(request.user, ApiKeyClient) else None,
                organization,
                key,
                kind=payload.validated_data["kind"],
                job_input=job_input,
            )
        except actions.CapabilityDisabled:
            raise CapabilityDisabledError(
                registry().get(key), queries.lock_off(organization_of(request), key)
            ) from None
        except actions.BudgetExhausted as exhausted:
            raise BudgetExhaustedError(exhausted.stop, registry().get(key)) from None
        except ActionError as refusal:
            raise exceptions.ValidationError({"kind": [refusal.message]}, code=refusal.code) from None
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _job_of(request: Request, job_id: int) -> Job:
    job = (
        Job.objects.select_related("requested_by")
        .filter(organization=organization_of(request), pk=job_id)
        .first()
    )
    if job is None:
        raise exceptions.NotFound("No such job")
    api_calls.attribute(request, job.capability)
    return job


class JobDetail(APIView):
    permission_classes = [IsAuthenticated, OrganizationMember]

    @extend_schema(summary="A job", responses={200: JobSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        return Response(JobSerializer(_job_of(request, job_id)).data)


class JobCancel(APIView):
    permission_classes = [IsAuthenticated, OrganizationMember]

    @extend_schema(
        summary="Cancel a queued job",
        request=None,
        responses={
            200: JobSerializer,
            409: OpenApiResponse(description="`not_queued`: it started or finished"),
        },
    )
    @idempotent
    def post(self, request: Request, job_id: int) -> Response:
        job = _job_of(request, job_id)
        require_role(request, USING_ROLES, "Billing users can read usage but not cancel jobs.")
        try:
            job = actions.cancel_job(request_actor(request), job)
        except ActionError as refusal:
            raise Conflict(refusal.message, code=refusal.code) from None
        return Response(JobSerializer(job).data)
