"""Reconciliation API for platform finance: the runs, and one run with its
lines (paginated, filterable by status)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing import queries
from billing.api.serializers import ReconciliationLineSerializer, ReconciliationRunSerializer
from billing.models import ReconciliationLine, ReconciliationRun
from portal.api.authentication import ApiKeyClient
from portal.api.pagination import MAX_PAGE_SIZE, PageNumberPagination


class FinanceOnly(permissions.BasePermission):
    message = "Reconciliations are for Switchboard's finance team."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, ApiKeyClient) or not getattr(user, "is_finance", False):
            raise exceptions.PermissionDenied(self.message, code="finance_required")
        return True


class LinePagination(PageNumberPagination):
    page_size = 200


@extend_schema(summary="Reconciliation runs", description="Every run, newest first (platform finance).")
class ReconciliationList(generics.ListAPIView[ReconciliationRun]):
    serializer_class = ReconciliationRunSerializer
    permission_classes = [permissions.IsAuthenticated, FinanceOnly]
    tenancy_opt_out = "platform finance only, across organizations"

    def get_queryset(self) -> QuerySet[ReconciliationRun]:
        return queries.reconciliation_runs()


@extend_schema(
    summary="One reconciliation run and its lines",
    description=(
        "The run's counts and its lines (organization, meter, day: Switchboard's and Stripe's totals, "
        "status and the action taken), paginated; `status` filters the lines."
    ),
    parameters=[
        OpenApiParameter(
            "status", OpenApiTypes.STR, enum=[choice for choice, _ in ReconciliationLine.Status.choices]
        ),
        OpenApiParameter("page", {"type": "integer", "minimum": 1}),
        OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}),
    ],
    responses=inline_serializer(
        "ReconciliationDetail",
        {
            "run": ReconciliationRunSerializer(),
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "lines": ReconciliationLineSerializer(many=True),
        },
    ),
)
class ReconciliationDetail(generics.RetrieveAPIView[ReconciliationRun]):
    serializer_class = ReconciliationRunSerializer
    permission_classes = [permissions.IsAuthenticated, FinanceOnly]
    tenancy_opt_out = "platform finance only, across organizations"

    def get_queryset(self) -> QuerySet[ReconciliationRun]:
        return queries.reconciliation_runs()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        run = queries.reconciliation_run(int(kwargs["pk"]))
        if run is None:
            raise exceptions.NotFound("No reconciliation run has this id.")
        lines = queries.run_lines(run)
        status = request.query_params.get("status")
        if status is not None:
            if status not in ReconciliationLine.Status.values:
                raise exceptions.ValidationError(
                    {"status": [f"Choose one of {', '.join(ReconciliationLine.Status.values)}."]}
                )
            lines = lines.filter(status=status)
        paginator = LinePagination()
        page = paginator.paginate_queryset(lines, request, view=self) or []
        return Response(
            {
                "run": ReconciliationRunSerializer(run).data,
                "count": paginator.page.paginator.count if paginator.page else 0,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "lines": ReconciliationLineSerializer(page, many=True).data,
            }
        )
