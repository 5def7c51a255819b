"""The external capabilities API for IT admins (platform staff, signed in):
register, list, change and retire services, and issue, rotate and revoke
their credentials. Mounted under /api/v1/manage/capabilities/. Not
organization-scoped: the registry is the platform's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capabilities import queries, services
from capabilities.models import ExternalCapability, ServiceCredential
from portal.actions.errors import ActionError
from portal.api.authentication import ApiKeyClient
from portal.audit import origin_of
from portal.models import User

TENANCY = "the capability registry is the platform's: IT admins only (finance may read)"


class ItAdmin(permissions.BasePermission):
    """Platform staff; platform finance may read."""

    message = "External capabilities are managed by Switchboard's IT admins."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, ApiKeyClient) or not user.is_authenticated:
            raise exceptions.PermissionDenied(self.message, code="it_admin_required")
        if user.is_staff:
            return True
        if request.method in permissions.SAFE_METHODS and getattr(user, "is_finance", False):
            return True
        raise exceptions.PermissionDenied(self.message, code="it_admin_required")


@extend_schema_serializer(component_name="ServiceMeter")  # not the catalog's Meter
class MeterSerializer(serializers.Serializer[Any]):
    key = serializers.RegexField(r"^[a-z][a-z0-9_]{1,39}$", max_length=40)
    unit = serializers.CharField(max_length=40, help_text="Singular: page, minute, 1,000 characters")
    unit_price = serializers.DecimalField(
        max_digits=12, decimal_places=services.PRICE_PLACES, min_value=0, coerce_to_string=True
    )
    currency = serializers.ChoiceField(choices=list(services.CURRENCIES), default="usd")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ServiceSerializer(serializers.Serializer[Any]):
    key = serializers.RegexField(r"^[a-z][a-z0-9_]{1,39}$", max_length=40)
    name = serializers.CharField(max_length=80)
    summary = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=60, required=False, default="Services")
    version = serializers.CharField(
        max_length=40, required=False, default="1.0.0", help_text="The stable version every organization runs"
    )
    beta_version = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="A version organizations can opt in to (their `channel` beta); the flag's metadata "
        "`version` tells the service which one an organization runs. Empty: none.",
    )
    beta_notes = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    documentation_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    health_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    dependencies = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=20
    )
    meters = MeterSerializer(many=True, required=False, default=list)
    # Read only
    retired_at = serializers.DateTimeField(read_only=True, allow_null=True)
    retired_reason = serializers.CharField(read_only=True)
    organizations_on = serializers.IntegerField(read_only=True)
    working_credentials = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


def _representation(service: ExternalCapability) -> dict[str, Any]:
    row = queries.external_capabilities().get(pk=service.pk)
    spec = services.spec_of(row)
    return {
        "key": spec.key,
        "name": spec.name,
        "summary": spec.summary,
        "category": spec.category,
        "version": spec.version,
        "beta_version": spec.beta_version,
        "beta_notes": spec.beta_notes,
        "documentation_url": spec.documentation_url,
        "health_url": spec.health_url,
        "dependencies": spec.dependencies,
        "meters": [
            {
                "key": meter.key,
                "unit": meter.unit,
                "unit_price": str(meter.unit_price.normalize()) if meter.unit_price else "0",
                "currency": meter.currency,
                "description": meter.description,
            }
            for meter in spec.meters
        ],
        "retired_at": row.retired_at,
        "retired_reason": row.retired_reason,
        "organizations_on": row.organizations_on,  # type: ignore[attr-defined]
        "working_credentials": row.working_credentials,  # type: ignore[attr-defined]
        "created_at": row.created_at,
    }


def _refused(refusal: ActionError) -> exceptions.APIException:
    if isinstance(refusal, services.InvalidService):
        return exceptions.ValidationError(refusal.errors, code=refusal.code)
    return exceptions.ValidationError({"detail": refusal.message}, code=refusal.code)


def _spec(data: dict[str, Any]) -> services.ServiceSpec:
    return services.spec_from(
        {**data, "meters": [{**meter, "unit_price": str(meter["unit_price"])} for meter in data["meters"]]}
    )


class ServiceList(APIView):
    permission_classes = [permissions.IsAuthenticated, ItAdmin]
    tenancy_opt_out = TENANCY

    def get_queryset(self) -> QuerySet[ExternalCapability]:
        return queries.external_capabilities()

    @extend_schema(
        summary="External capabilities",
        description="Every registered service, in service first, then retired ones.",
        responses=ServiceSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return Response([_representation(service) for service in self.get_queryset()])

    @extend_schema(
        summary="Register an external capability",
        description=(
            "From now on it is in every organization's catalog, the price book, Stripe sync, budgets and "
            "usage like an app capability. `key` is its flag key and its CloudEvents type prefix; meters' "
            "`unit_price` is the default price per unit (a decimal string). 400 names every problem."
        ),
        request=ServiceSerializer,
        responses={201: ServiceSerializer, 400: OpenApiResponse(description="Invalid declaration")},
    )
    def post(self, request: Request) -> Response:
        given = ServiceSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            service = services.register(
                _actor(request), _spec(given.validated_data), origin=origin_of(request)
            )
        except ActionError as refusal:
            raise _refused(refusal) from None
        return Response(_representation(service), status=status.HTTP_201_CREATED)


def _actor(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def _service(key: str) -> ExternalCapability:
    return get_object_or_404(ExternalCapability, key=key)


class ServiceDetail(APIView):
    permission_classes = [permissions.IsAuthenticated, ItAdmin]
    tenancy_opt_out = TENANCY

    @extend_schema(summary="One external capability", responses=ServiceSerializer)
    def get(self, request: Request, key: str) -> Response:
        return Response(_representation(_service(key)))

    @extend_schema(
        summary="Change an external capability",
        description=(
            "The whole declaration again. Its `key` and its meters' keys and units can't change; meters can "
            "be added, not removed. Changing a meter's default price does not change the price in force "
            "(the price book's)."
        ),
        request=ServiceSerializer,
        responses={200: ServiceSerializer, 400: OpenApiResponse(description="Invalid declaration")},
    )
    def put(self, request: Request, key: str) -> Response:
        service = _service(key)
        given = ServiceSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            service = services.change(
                _actor(request), service, _spec(given.validated_data), origin=origin_of(request)
            )
        except ActionError as refusal:
            raise _refused(refusal) from None
        return Response(_representation(service))


class ServiceRetire(APIView):
    permission_classes = [permissions.IsAuthenticated, ItAdmin]
    tenancy_opt_out = TENANCY

    @extend_schema(
        summary="Retire an external capability",
        description=(
            "Out of the catalog, switched off for every organization (the reason in each one's history), "
            "its credentials revoked; its usage, prices and history stay. 400 while capabilities in service "
            "need it."
        ),
        request=inline_serializer("RetireRequest", {"reason": serializers.CharField(max_length=300)}),
        responses={
            200: inline_serializer(
                "RetireResult",
                {"capability": ServiceSerializer(), "switched_off": serializers.IntegerField()},
            ),
            400: OpenApiResponse(description="No reason, retired already, or needed by others"),
        },
    )
    def post(self, request: Request, key: str) -> Response:
        service = _service(key)
        reason = request.data.get("reason") if isinstance(request.data, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            raise exceptions.ValidationError({"reason": ["Say why it is retired (up to 300 characters)."]})
        if len(reason) > 300:
            raise exceptions.ValidationError({"reason": ["At most 300 characters."]})
        try:
            switched_off = services.retire(_actor(request), service, reason=reason, origin=origin_of(request))
        except ActionError as refusal:
            raise _refused(refusal) from None
        return Response({"capability": _representation(service), "switched_off": switched_off})


class CredentialSerializer(serializers.Serializer[Any]):
    prefix = serializers.CharField()
    name = serializers.CharField()
    created = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked = serializers.BooleanField()
    revoked_at = serializers.DateTimeField(allow_null=True)


class IssuedCredentialSerializer(CredentialSerializer):
    secret = serializers.CharField(help_text="Shown once: Switchboard keeps only a hash.")


class CredentialList(APIView):
    permission_classes = [permissions.IsAuthenticated, ItAdmin]
    tenancy_opt_out = TENANCY

    @extend_schema(summary="A service's credentials", responses=CredentialSerializer(many=True))
    def get(self, request: Request, key: str) -> Response:
        credentials = queries.service_credentials(_service(key))
        return Response(CredentialSerializer(credentials, many=True).data)

    @extend_schema(
        summary="Issue a service credential",
        description=(
            "The secret is in this answer only. The service sends it as `Authorization: Bearer <secret>`."
        ),
        request=inline_serializer(
            "CredentialRequest", {"name": serializers.CharField(max_length=50, required=False)}
        ),
        responses={201: IssuedCredentialSerializer, 400: OpenApiResponse(description="A retired capability")},
    )
    def post(self, request: Request, key: str) -> Response:
        service = _service(key)
        name = request.data.get("name", "") if isinstance(request.data, dict) else ""
        if not isinstance(name, str) or len(name) > 50:
            raise exceptions.ValidationError({"name": ["A name of at most 50 characters."]})
        try:
            credential, secret = services.issue_credential(
                _actor(request), service, name=name, origin=origin_of(request)
            )
        except ActionError as refusal:
            raise _refused(refusal) from None
        return Response(_issued(credential, secret), status=status.HTTP_201_CREATED)


def _issued(credential: ServiceCredential, secret: str) -> dict[str, Any]:
    return {**CredentialSerializer(credential).data, "secret": secret}


def _credential(key: str, prefix: str) -> ServiceCredential:
    return get_object_or_404(ServiceCredential, capability__key=key, prefix=prefix)


class CredentialDetail(APIView):
    permission_classes = [permissions.IsAuthenticated, ItAdmin]
    tenancy_opt_out = TENANCY

    @extend_schema(
        summary="Revoke a service credential",
        description="It stops working within a second.",
        responses={204: None, 400: OpenApiResponse(description="Revoked already")},
    )
    def delete(self, request: Request, key: str, prefix: str) -> Response:
        try:
            services.revoke_credential(_actor(request), _credential(key, prefix), origin=origin_of(request))
        except ActionError as refusal:
            raise _refused(refusal) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class CredentialRotate(APIView):
    permission_classes = [permissions.IsAuthenticated, ItAdmin]
    tenancy_opt_out = TENANCY

    @extend_schema(
        summary="Rotate a service credential",
        description="A new secret under the same name (in this answer only); the old one stops working.",
        request=None,
        responses={201: IssuedCredentialSerializer, 400: OpenApiResponse(description="Revoked already")},
    )
    def post(self, request: Request, key: str, prefix: str) -> Response:
        try:
            credential, secret = services.rotate_credential(
                _actor(request), _credential(key, prefix), origin=origin_of(request)
            )
        except ActionError as refusal:
            raise _refused(refusal) from None
        return Response(_issued(credential, secret), status=status.HTTP_201_CREATED)
