"""Usage API: the caller organization's usage grouped as asked, its ledger
events with cursor pagination, and its budgets. Platform finance may read any
organization's usage by slug."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metering import actions, budgets, formatting
from metering.api.serializers import (
    DEFAULT_GROUPING,
    GROUPINGS,
    AnomalyListSerializer,
    AnomalyQuerySerializer,
    BudgetRequestSerializer,
    BudgetSerializer,
    UsageEventSerializer,
    UsageQuerySerializer,
    UsageReportSerializer,
)
from metering.budgets import BudgetStatus
from metering.filtersets import UsageEventFilter
from metering.models import Budget, UsageEvent
from metering.periods import billing_period, days_period
from metering.queries.anomalies import organization_anomalies
from metering.queries.budgets import budget_of
from metering.queries.usage import organization_rollups, totals_of_report, usage_report
from portal.actions.errors import ActionError
from portal.api.authentication import ApiKeyClient, request_actor
from portal.api.filters import FilterBackend
from portal.api.idempotency import idempotent
from portal.api.pagination import CursorPagination
from portal.api.permissions import OrganizationMember, organization_of, require_role
from portal.audit import origin_of
from portal.models import USAGE_ROLES, Organization


class FinanceRequired(exceptions.PermissionDenied):
    default_detail = "Only platform finance can read another organization's usage."
    default_code = "finance_required"


def _is_finance(request: Request) -> bool:
    return not isinstance(request.user, ApiKeyClient) and bool(getattr(request.user, "is_finance", False))


class UsageReader(OrganizationMember):
    """The caller's organization (API key, or a session member whose role may read
    usage: owner, admin, billing); platform finance naming an organization."""

    message = (
        "Your role in this organization does not allow reading its usage: owners, admins and billing can."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        if _is_finance(request) and request.query_params.get("organization"):
            return True
        if not super().has_permission(request, view):
            return False
        require_role(request, USAGE_ROLES, self.message)
        return True


def _organization_to_read(request: Request, slug: str | None) -> Organization:
    """The caller's organization, or for finance the one named by `slug`. Anyone
    else naming another organization gets 403, whether it exists or not."""
    if slug and _is_finance(request):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise exceptions.ValidationError({"organization": [f"No organization has the slug {slug!r}."]})
        return organization
    own = organization_of(request)
    if slug and slug != own.slug:
        raise FinanceRequired()
    return own


@extend_schema(
    summary="Usage and cost",
    description=(
        "Usage of the caller's organization between two days (UTC, both included; default: "
        "the current billing period, a calendar month), grouped by any of "
        f"{', '.join(GROUPINGS)}. Costs are exact decimal strings from the price book, "
        "one row per grouping and currency. Owners, admins, billing users and API keys; "
        "platform finance may name any organization."
    ),
    parameters=[
        OpenApiParameter(
            "start", OpenApiTypes.DATE, description="First day, YYYY-MM-DD (alone: through its month's end)."
        ),
        OpenApiParameter(
            "end",
            OpenApiTypes.DATE,
            description="Last day (included), YYYY-MM-DD (alone: from its month's first day).",
        ),
        OpenApiParameter(
            "group_by",
            OpenApiTypes.STR,
            description=f"Comma-separated subset of {', '.join(GROUPINGS)} (default {DEFAULT_GROUPING}). "
            "`version`: the capability version the jobs that made the usage ran with (null for usage "
            "no versioned job made: API calls, services' events, jobs from before versions).",
        ),
        OpenApiParameter(
            "organization", OpenApiTypes.STR, description="Platform finance only: an organization's slug."
        ),
    ],
    responses={
        200: UsageReportSerializer,
        400: OpenApiResponse(description="Invalid dates, range or grouping (`invalid`)"),
        403: OpenApiResponse(description="A role that may not read usage, or `finance_required`"),
    },
)
class UsageReport(APIView):
    permission_classes = [IsAuthenticated, UsageReader]

    def get(self, request: Request) -> Response:
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        organization = _organization_to_read(request, params.get("organization"))
        if params.get("start"):
            period = days_period(params["start"], params["end"])
        else:
            period = billing_period(timezone.now())
        group_by: list[str] = params["group_by"] or DEFAULT_GROUPING.split(",")
        rows = usage_report(organization_rollups(organization), period, group_by, organization=organization)
        totals = totals_of_report(rows)
        return Response(
            {
                "organization": organization.slug,
                "start": period.start.date(),
                "end": period.last_day,
                "group_by": group_by,
                "rows": [{**row.as_dict(), "cost": formatting.exact(row.cost)} for row in rows],
                "totals": [
                    {"cost": formatting.exact(amount), "currency": currency}
                    for currency, amount in totals.items()
                ],
            }
        )


class EventCursor(CursorPagination):
    ordering = "-id"
    page_size = 100


@extend_schema(
    summary="Usage events",
    description=(
        "The caller organization's ledger events, newest first, with cursor pagination (follow "
        "`next`). Corrections have kind `correction` and a reason. Owners, admins, billing users "
        "and API keys; platform finance may name any organization."
    ),
    parameters=[
        OpenApiParameter(
            "organization", OpenApiTypes.STR, description="Platform finance only: an organization's slug."
        ),
    ],
)
class UsageEventList(generics.ListAPIView):  # type: ignore[type-arg]
    permission_classes = [IsAuthenticated, UsageReader]
    serializer_class = UsageEventSerializer
    pagination_class = EventCursor
    filter_backends = [FilterBackend]
    filterset_class = UsageEventFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema without a caller
            return UsageEvent.objects.none()
        organization = _organization_to_read(self.request, self.request.query_params.get("organization"))
        return UsageEvent.objects.filter(organization=organization)


# --- budgets -------------------------------------------------------------------------


class BudgetRole(OrganizationMember):
    """Owners, admins and billing members (and API keys of the read scope for
    reading, of the manage scope for changing) read and change the
    organization's budgets; plain members and keys of the use scope do not."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        require_role(
            request,
            USAGE_ROLES,
            "Your role in this organization does not allow budgets: owners, admins and billing can.",
        )
        return True


class BudgetRefused(exceptions.APIException):
    """Input the budget rules refuse (amount, thresholds, action, capability),
    with the action's code."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"


class BudgetConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "budget_exists"


class BudgetLocked(exceptions.PermissionDenied):
    default_code = "platform_cap_locked"


def _refusal(refusal: ActionError) -> exceptions.APIException:
    if refusal.code == "budget_exists":
        return BudgetConflict(refusal.message, code=refusal.code)
    if refusal.code == "platform_cap_locked":
        return BudgetLocked(refusal.message, code=refusal.code)
    if refusal.code == "not_found":
        return exceptions.NotFound("No such budget")
    return BudgetRefused(refusal.message, code=refusal.code)


def _status_of(organization: Organization, budget_id: int) -> BudgetStatus:
    for found in budgets.statuses(organization):
        if found.budget.pk == budget_id:
            return found
    raise exceptions.NotFound("No such budget")


def _save(request: Request, budget: Budget | None) -> BudgetStatus:
    payload = BudgetRequestSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    organization = organization_of(request)
    try:
        saved = actions.save_budget(
            request_actor(request),
            organization,
            budget=budget,
            origin=origin_of(request),
            **payload.validated_data,
        )
    except ActionError as refusal:
        raise _refusal(refusal) from None
    return _status_of(organization, saved.pk)


BUDGET_ERRORS = {
    400: OpenApiResponse(
        description="`invalid` with `errors` per field (a negative or non-numeric amount, a threshold "
        "out of 1-100, an unknown capability), or `invalid_amount`, `invalid_thresholds`"
    ),
    403: OpenApiResponse(description="A role that may not set budgets, or `platform_cap_locked`"),
}


# A budget is written as JSON only: a form's empty `capability` would read as null (every
# capability), which JSON says explicitly.
BUDGET_PARSERS = [JSONParser]


class BudgetListCreate(APIView):
    permission_classes = [IsAuthenticated, BudgetRole]
    parser_classes = BUDGET_PARSERS

    @extend_schema(
        summary="Budgets",
        description="The organization's monthly budgets, the total first, then by capability, with "
        "platform caps (locked) beside its own; each with this month's spend, what its running jobs "
        "should cost, what remains, the projection and its state. Owners, admins, billing "
        "members and API keys of the read or manage scope.",
        responses={200: BudgetSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(BudgetSerializer(budgets.statuses(organization_of(request)), many=True).data)

    @extend_schema(
        summary="Set a budget",
        description="A monthly limit over every capability (`capability` null) or one capability. "
        "With `stop`, new jobs and metered API calls of what it covers are refused (402 "
        "`budget_exhausted`) once spent plus what is running reaches it; running jobs finish. "
        "One budget per scope: 409 `budget_exists` for a second one (change it with PUT).",
        request=BudgetRequestSerializer,
        responses={
            201: BudgetSerializer,
            **BUDGET_ERRORS,
            409: OpenApiResponse(description="`budget_exists`: the organization has a budget for this scope"),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        saved = _save(request, None)
        return Response(BudgetSerializer(saved).data, status=status.HTTP_201_CREATED)


class BudgetDetail(APIView):
    permission_classes = [IsAuthenticated, BudgetRole]
    parser_classes = BUDGET_PARSERS

    def _budget(self, request: Request, budget_id: int) -> Budget:
        found = budget_of(organization_of(request), budget_id)
        if found is None:
            raise exceptions.NotFound("No such budget")
        return found

    @extend_schema(summary="A budget", responses={200: BudgetSerializer})
    def get(self, request: Request, budget_id: int) -> Response:
        budget = self._budget(request, budget_id)
        return Response(BudgetSerializer(_status_of(organization_of(request), budget.pk)).data)

    @extend_schema(
        summary="Change a budget",
        description="Replaces its scope, amount, action and thresholds; a raised stop budget lets new "
        "work start at once. A platform cap is locked (403 `platform_cap_locked`).",
        request=BudgetRequestSerializer,
        responses={
            200: BudgetSerializer,
            **BUDGET_ERRORS,
            409: OpenApiResponse(description="`budget_exists`: another budget has this scope"),
        },
    )
    def put(self, request: Request, budget_id: int) -> Response:
        saved = _save(request, self._budget(request, budget_id))
        return Response(BudgetSerializer(saved).data)

    @extend_schema(
        summary="Delete a budget",
        description="Its stop lifts at once. A platform cap is locked (403 `platform_cap_locked`).",
        responses={204: None, 403: BUDGET_ERRORS[403]},
    )
    def delete(self, request: Request, budget_id: int) -> Response:
        budget = self._budget(request, budget_id)
        try:
            actions.delete_budget(request_actor(request), budget, origin=origin_of(request))
        except ActionError as refusal:
            raise _refusal(refusal) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    summary="Usage anomalies",
    description=(
        "Closed UTC days on which a meter of the caller organization's capabilities spiked: at least "
        "3 times the usual day of the 28 days before (their median, days without usage counting as 0; "
        "for a meter used on fewer than half the days, the median day with usage), with a robust "
        "z-score above 3.5 and at least 20 units (docs/metering.md). Newest first. Owners, admins, "
        "billing users and API keys; platform finance may name any organization."
    ),
    parameters=[AnomalyQuerySerializer],
    responses={
        200: AnomalyListSerializer,
        400: OpenApiResponse(description="Invalid days, limit or an unknown capability (`invalid`)"),
        403: OpenApiResponse(description="A role that may not read usage, or `finance_required`"),
    },
)
class UsageAnomalyList(APIView):
    permission_classes = [IsAuthenticated, UsageReader]

    def get(self, request: Request) -> Response:
        query = AnomalyQuerySerializer(data=request.query_params.dict())  # an empty value is a value
        query.is_valid(raise_exception=True)
        params = query.validated_data
        organization = _organization_to_read(request, params.get("organization"))
        rows = organization_anomalies(
            organization,
            since=params.get("since"),
            until=params.get("until"),
            capability=params.get("capability"),
            limit=params["limit"],
        )
        return Response(
            {
                "organization": organization.slug,
                "anomalies": [
                    {
                        "capability": row.capability,
                        "capability_title": row.capability_title,
                        "meter": row.meter,
                        "unit": row.unit,
                        "day": row.day,
                        "quantity": row.quantity,
                        "baseline_median": formatting.exact(row.baseline_median.normalize()),
                        "baseline_mad": formatting.exact(row.baseline_mad.normalize()),
                        "usual_day": formatting.exact(row.usual_day.normalize()),
                        "robust_z": None if row.robust_z is None else round(row.robust_z, 2),
                        "ratio": None if row.ratio is None else round(row.ratio, 2),
                        "summary": row.summary,
                        "detected_at": row.detected_at,
                    }
                    for row in rows
                ],
            }
        )
