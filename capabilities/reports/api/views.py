"""Sales reports API: upload a set of spreadsheets, confirm the mapping, start
a build, read the report (totals, rankings, flags) and download it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from capabilities.api.permissions import CapabilityEnabledForRoute
from capabilities.models import Job
from capabilities.reports import actions, exports, queries, sources
from capabilities.reports.api.serializers import (
    MappingRequestSerializer,
    ReportSerializer,
    SalesUploadRequestSerializer,
    UploadSetSerializer,
)
from capabilities.reports.models import Report, UploadSet
from portal.actions.errors import ActionError
from portal.api.authentication import ApiKeyClient, request_actor
from portal.api.idempotency import idempotent
from portal.api.permissions import OrganizationMember, organization_of, require_role
from portal.audit import origin_of
from portal.models import USING_ROLES
from portal.uploads import accepts_uploads

PERMISSIONS = [IsAuthenticated, CapabilityEnabledForRoute, OrganizationMember]


def _may_change(request: Request) -> None:
    """Members who run jobs and keys with the use or manage scope; billing users
    and read keys read only."""
    require_role(request, USING_ROLES, "Billing users can read reports but not change them.")


def _actor(request: Request):  # type: ignore[no-untyped-def]
    return None if isinstance(request.user, ApiKeyClient) else request_actor(request)


def _upload_set(request: Request, upload_set_id: int) -> UploadSet:
    found = UploadSet.objects.filter(organization=organization_of(request), pk=upload_set_id).first()
    if found is None:
        raise exceptions.NotFound("No such upload set")
    return found


def _report(request: Request, report_id: int) -> Report:
    found = queries.reports(organization_of(request)).filter(pk=report_id).first()
    if found is None:
        raise exceptions.NotFound("No such report")
    return found


@accepts_uploads(sources.upload_limits)
class UploadSetListCreate(generics.ListAPIView):
    permission_classes = PERMISSIONS
    serializer_class = UploadSetSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> QuerySet[UploadSet]:
        if getattr(self, "swagger_fake_view", False):
            return UploadSet.objects.none()
        return queries.upload_sets(organization_of(self.request)).prefetch_related("files")

    @extend_schema(summary="List upload sets", description="The organization's upload sets, newest first.")
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a set of sales spreadsheets",
        description="Multipart: `files` (repeated) and an optional `name`. Every file is read at once "
        "(encoding, header, first rows, row count); if any file is empty, corrupt, too large or over "
        "the row limit, or the files cannot be stored, nothing is stored and every problem is listed.",
        request={"multipart/form-data": SalesUploadRequestSerializer},
        responses={
            201: UploadSetSerializer,
            400: OpenApiResponse(description="`upload_refused` with `problems`, one per file problem"),
            413: OpenApiResponse(description="`upload_too_large`: a file or the request over its limit"),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        _may_change(request)
        payload = SalesUploadRequestSerializer(
            data={"name": request.POST.get("name", ""), "files": request.FILES.getlist("files")}
        )
        payload.is_valid(raise_exception=True)
        try:
            upload_set = actions.create_upload_set(
                _actor(request),
                organization_of(request),
                name=payload.validated_data["name"],
                files=payload.validated_data["files"],
                origin=origin_of(request),
            )
        except actions.UploadRefused as refused:
            return Response(
                {"detail": "These files cannot be used.", "code": refused.code, "problems": refused.problems},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(UploadSetSerializer(upload_set).data, status=status.HTTP_201_CREATED)


class UploadSetDetail(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(summary="An upload set", responses={200: UploadSetSerializer})
    def get(self, request: Request, upload_set_id: int) -> Response:
        return Response(UploadSetSerializer(_upload_set(request, upload_set_id)).data)


class UploadSetMapping(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        summary="Confirm the column mapping",
        description="Which column holds date, region, sku, units and revenue; each a column of the "
        "set's files, none used twice.",
        request=MappingRequestSerializer,
        responses={
            200: UploadSetSerializer,
            400: OpenApiResponse(description="`invalid_mapping`: what is missing or wrong"),
        },
    )
    def put(self, request: Request, upload_set_id: int) -> Response:
        _may_change(request)
        upload_set = _upload_set(request, upload_set_id)
        payload = MappingRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            upload_set = actions.set_mapping(
                _actor(request),
                upload_set,
                mapping=payload.validated_data["mapping"],
                date_order=payload.validated_data["date_order"],
                currency=payload.validated_data["currency"],
                origin=origin_of(request),
            )
        except ActionError as refusal:
            raise exceptions.ValidationError({"mapping": [refusal.message]}, code=refusal.code) from None
        return Response(UploadSetSerializer(upload_set).data)


class UploadSetBuild(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        summary="Build a report",
        description="Queues a build job (kind `build`, queue `cap.reports`). Poll the report until its "
        "status is `succeeded` or `failed`; a failed build is not billed.",
        request=None,
        responses={
            202: ReportSerializer,
            400: OpenApiResponse(description="`mapping_unconfirmed`"),
        },
    )
    @idempotent
    def post(self, request: Request, upload_set_id: int) -> Response:
        _may_change(request)
        upload_set = _upload_set(request, upload_set_id)
        try:
            report = actions.start_report(_actor(request), upload_set, origin=origin_of(request))
        except ActionError as refusal:
            raise exceptions.ValidationError({"detail": refusal.message}, code=refusal.code) from None
        return Response(ReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class ReportDetail(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(summary="A report", responses={200: ReportSerializer})
    def get(self, request: Request, report_id: int) -> Response:
        return Response(ReportSerializer(_report(request, report_id)).data)


def _built(request: Request, report_id: int) -> Report:
    found = _report(request, report_id)
    if found.job is None or found.job.status != Job.Status.SUCCEEDED:
        raise exceptions.NotFound("This report has not been built.")
    return found


def _attachment(found: Report, content: bytes, content_type: str, extension: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    name = slugify(found.upload_set.name) or "sales"
    response["Content-Disposition"] = f'attachment; filename="report-{found.pk}-{name}.{extension}"'
    return response


class ReportXlsx(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        summary="Download a report as XLSX",
        responses={
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY
        },
    )
    def get(self, request: Request, report_id: int) -> HttpResponse:
        found = _built(request, report_id)
        return _attachment(
            found,
            exports.xlsx_bytes(found.upload_set.name, found.figures),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )


class ReportPdf(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        summary="Download a report as PDF", responses={(200, "application/pdf"): OpenApiTypes.BINARY}
    )
    def get(self, request: Request, report_id: int) -> HttpResponse:
        found = _built(request, report_id)
        return _attachment(
            found, exports.pdf_bytes(found.upload_set.name, found.figures), "application/pdf", "pdf"
        )
