"""Contract tracker API: list the organization's contracts (the next notice
deadline first; filters), read one, and correct a field (audited; the
correction wins over later analyses)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from capabilities.api.permissions import CapabilityEnabledForRoute
from capabilities.contracts import actions, queries
from capabilities.contracts.api.serializers import ContractSerializer, CorrectionRequestSerializer
from capabilities.contracts.filtersets import ContractFilter
from capabilities.contracts.models import Contract
from portal.actions.errors import ActionError
from portal.api.authentication import request_actor
from portal.api.filters import FilterBackend
from portal.api.permissions import OrganizationMember, organization_of, require_role
from portal.audit import origin_of
from portal.models import USING_ROLES

PERMISSIONS = [IsAuthenticated, OrganizationMember, CapabilityEnabledForRoute]


@extend_schema(
    summary="List contracts",
    description="The organization's documents that read as contracts, the next notice deadline first "
    "(unknown deadlines last). Filter with `auto_renews` (true/false) and `deadline_within` (30, 60 or "
    "90: the notice deadline falls within that many days from today).",
)
class ContractList(generics.ListAPIView):
    permission_classes = PERMISSIONS
    serializer_class = ContractSerializer
    filter_backends = [FilterBackend]
    filterset_class = ContractFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return Contract.objects.none()
        return queries.contracts(organization_of(self.request))


class ContractDetail(generics.GenericAPIView):
    permission_classes = PERMISSIONS
    serializer_class = ContractSerializer

    def get_object(self) -> Contract:
        # Scoped to the caller's organization: another organization's contract is 404.
        return get_object_or_404(
            queries.analyses(organization_of(self.request)), pk=self.kwargs["contract_id"]
        )

    @extend_schema(summary="A contract", description="Every field with its citations.")
    def get(self, request: Request, contract_id: int) -> Response:
        return Response(ContractSerializer(self.get_object()).data)

    @extend_schema(
        summary="Correct a field of a contract",
        description="Sets one field (`field`, `value`, optional `note`). The correction is audited and "
        "kept when the document is analysed again; the notice deadline follows corrected dates. "
        "Owners, admins and members (and API keys that may write); billing members read only.",
        request=CorrectionRequestSerializer,
        responses={
            200: ContractSerializer,
            400: OpenApiResponse(description="`invalid_correction`: the value cannot be the field's"),
        },
    )
    def patch(self, request: Request, contract_id: int) -> Response:
        require_role(request, USING_ROLES, "Billing members read contracts; they don't correct them.")
        contract = self.get_object()
        body = CorrectionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            actions.correct_contract(
                request_actor(request),
                contract,
                body.validated_data["field"],
                body.validated_data["value"],
                note=body.validated_data["note"],
                origin=origin_of(request),
            )
        except ActionError as refusal:
            raise exceptions.ValidationError({"value": [refusal.message]}, code=refusal.code) from None
        contract.refresh_from_db()
        return Response(ContractSerializer(contract).data)
