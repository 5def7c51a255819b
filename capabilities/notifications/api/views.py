"""Notifications API: rules (owners, admins and API keys change them), test
sends, and deliveries with their attempts. 403 `capability_disabled` while
notifications are off for the organization."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capabilities.api.permissions import CapabilityEnabledForRoute
from capabilities.notifications import actions, queries
from capabilities.notifications.api.serializers import DeliverySerializer, RuleSerializer
from capabilities.notifications.filtersets import DeliveryFilter
from capabilities.notifications.models import Delivery, Rule
from portal.actions.errors import ActionError
from portal.api.authentication import request_actor, request_role
from portal.api.filters import FilterBackend
from portal.api.idempotency import idempotent
from portal.api.permissions import OrganizationMember, organization_of
from portal.audit import origin_of
from portal.models import MANAGING_ROLES

PERMISSIONS = [IsAuthenticated, CapabilityEnabledForRoute, OrganizationMember]
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


def _can_manage(request: Request) -> bool:
    """An owner or admin, or a key with the manage scope."""
    return request_role(request) in MANAGING_ROLES


def _refused(refusal: ActionError) -> exceptions.ValidationError:
    return exceptions.ValidationError({"detail": refusal.message}, code=refusal.code)


class _RuleView(generics.GenericAPIView):
    permission_classes = PERMISSIONS
    managing_roles_for = CHANGES
    serializer_class = RuleSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return Rule.objects.none()
        return queries.rules(organization_of(self.request))

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "show_secrets": _can_manage(self.request)}


@extend_schema_view(
    get=extend_schema(summary="List notification rules"),
    post=extend_schema(
        summary="Create a notification rule",
        description="Owners, admins and API keys. The webhook signing secret is generated and returned.",
        responses={
            201: RuleSerializer,
            400: OpenApiResponse(description="Invalid target, capability or event"),
        },
    ),
)
class RuleListCreate(_RuleView, generics.ListCreateAPIView):
    def perform_create(self, serializer: RuleSerializer) -> None:  # type: ignore[override]
        try:
            serializer.instance = actions.create_rule(
                request_actor(self.request),
                organization_of(self.request),
                **serializer.validated_data,
                origin=origin_of(self.request),
            )
        except ActionError as refusal:
            raise _refused(refusal) from None


@extend_schema_view(
    get=extend_schema(summary="A notification rule"),
    put=extend_schema(summary="Replace a notification rule"),
    patch=extend_schema(summary="Change a notification rule"),
    delete=extend_schema(summary="Delete a notification rule", description="Its deliveries are kept."),
)
class RuleDetail(_RuleView, generics.RetrieveUpdateDestroyAPIView):
    lookup_url_kwarg = "rule_id"

    def perform_update(self, serializer: RuleSerializer) -> None:  # type: ignore[override]
        rule = serializer.instance
        assert isinstance(rule, Rule)
        values = {
            "capability": rule.capability,
            "event": rule.event,
            "channel": rule.channel,
            "target": rule.target,
            "within_days": rule.within_days,
            **serializer.validated_data,
        }
        try:
            serializer.instance = actions.update_rule(
                request_actor(self.request), rule, **values, origin=origin_of(self.request)
            )
        except ActionError as refusal:
            raise _refused(refusal) from None

    def perform_destroy(self, instance: Rule) -> None:
        actions.delete_rule(request_actor(self.request), instance, origin=origin_of(self.request))


class RuleTestSend(APIView):
    permission_classes = PERMISSIONS
    managing_roles_for = {"POST"}

    @extend_schema(
        summary="Send a test message for a rule",
        description="Queues a real message over the rule's channel; follow it in the returned delivery. "
        "Delivered, it counts as one message.",
        request=None,
        responses={202: DeliverySerializer},
    )
    @idempotent
    def post(self, request: Request, rule_id: int) -> Response:
        rule = queries.rules(organization_of(request)).filter(pk=rule_id).first()
        if rule is None:
            raise exceptions.NotFound("No such rule")
        try:
            delivery = actions.send_test(request_actor(request), rule, origin=origin_of(request))
        except ActionError as refusal:
            raise _refused(refusal) from None
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    summary="List deliveries",
    description="Newest first, each with its attempts; filter by status and channel.",
)
class DeliveryList(generics.ListAPIView):
    permission_classes = PERMISSIONS
    serializer_class = DeliverySerializer
    filter_backends = [FilterBackend]
    filterset_class = DeliveryFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        return queries.deliveries_with_attempts(organization_of(self.request))


@extend_schema(summary="A delivery with its attempts")
class DeliveryDetail(generics.RetrieveAPIView):
    permission_classes = PERMISSIONS
    serializer_class = DeliverySerializer
    lookup_url_kwarg = "delivery_id"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        return queries.deliveries_with_attempts(organization_of(self.request))
