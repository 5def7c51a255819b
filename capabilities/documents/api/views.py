"""Documents API: upload one or many files, list and read documents with
their extraction status, pages and fields, and search them."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from capabilities.api.permissions import CapabilityEnabledForRoute
from capabilities.documents import actions, queries, search
from capabilities.documents.api.serializers import (
    DocumentDetailSerializer,
    DocumentSerializer,
    DocumentUploadRequestSerializer,
    SearchResultSerializer,
    UploadRefusedSerializer,
    UploadResultSerializer,
)
from capabilities.documents.forms import upload_limits
from capabilities.documents.models import Document
from portal.actions.errors import ActionError
from portal.api.authentication import ApiKeyClient, request_actor
from portal.api.idempotency import idempotent
from portal.api.permissions import OrganizationMember, organization_of, require_role
from portal.audit import origin_of
from portal.models import USING_ROLES
from portal.uploads import accepts_uploads, refused_uploads

PERMISSIONS = [IsAuthenticated, OrganizationMember, CapabilityEnabledForRoute]


@accepts_uploads(upload_limits)
class DocumentListCreate(generics.ListAPIView):
    permission_classes = PERMISSIONS
    serializer_class = DocumentSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return Document.objects.none()
        return queries.documents(organization_of(self.request))

    @extend_schema(summary="List documents", description="The organization's documents, newest first.")
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Upload documents",
        description="Multipart upload of one or more files in the field `files`. Each accepted file is "
        "stored and gets an extraction job, committed on its own; an empty file, one over the size "
        "limit or of an unsupported type, and one that could not be stored are listed under `rejected` "
        "with the reason and do not stop the others.",
        request={"multipart/form-data": DocumentUploadRequestSerializer},
        responses={
            201: UploadResultSerializer,
            400: OpenApiResponse(
                response=UploadRefusedSerializer,
                description="No file (`no_files`), too many files (`too_many_files`), or every file was "
                "rejected (`files_rejected`, with each file's reason under `rejected`)",
            ),
            413: OpenApiResponse(description="`upload_too_large`: a file or the request over its limit"),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        require_role(request, USING_ROLES, "Billing members read documents; they don't upload them.")
        uploads = request.FILES.getlist("files") + request.FILES.getlist("file")
        try:
            result = actions.upload_documents(
                request_actor(request),
                organization_of(request),
                uploads,
                origin=origin_of(request),
                refused=refused_uploads(request._request),
            )
        except ActionError as refusal:
            raise exceptions.ValidationError({"detail": refusal.message}, code=refusal.code) from None
        body = UploadResultSerializer(result).data
        if not result.documents:  # every file was refused: an error, with each file's reason
            return Response(
                {"detail": "None of the files could be used.", "code": "files_rejected", **body},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="A document", description="Its extraction status, key fields and pages with their text."
)
class DocumentDetail(generics.RetrieveAPIView):
    permission_classes = PERMISSIONS
    serializer_class = DocumentDetailSerializer

    def get_object(self) -> Document:
        # Scoped to the caller's organization (an API key's or the session's): 404 otherwise.
        documents = queries.documents(organization_of(self.request)).prefetch_related("pages")
        return get_object_or_404(documents, pk=self.kwargs["document_id"])


@extend_schema(
    summary="Search documents",
    description="Ranked full-text search over the organization's pages (best first, at most 20), "
    "with highlighted snippets. Each search with at least one word is counted on the `searches` "
    "meter; without words the results are empty and nothing is counted.",
    parameters=[OpenApiParameter("q", str, required=True, description="Words to find")],
    responses={200: SearchResultSerializer},
)
class DocumentSearch(generics.GenericAPIView):
    permission_classes = PERMISSIONS
    serializer_class = SearchResultSerializer
    pagination_class = None

    def get(self, request: Request) -> Response:
        if "q" not in request.query_params:
            raise exceptions.ValidationError({"q": ["Give the words to find in `q`."]})
        query = request.query_params["q"].strip()[:200]
        if not search.has_terms(query):  # nothing to look for: no results, and no search counted
            return Response(SearchResultSerializer({"query": query, "results": []}).data)
        if isinstance(request.user, ApiKeyClient):  # a search is billed: a read key may not run one
            require_role(request, USING_ROLES, "")
        organization = organization_of(request)
        hits = search.search(organization.pk, query)
        actions.record_search(organization, request_actor(request), query)
        results = [
            {
                **hit.__dict__,
                "snippet": str(hit.snippet),
                "url": reverse("documents:page", args=[hit.document_id, hit.page_number])
                + "?"
                + urlencode({"q": query}),
            }
            for hit in hits
        ]
        return Response(SearchResultSerializer({"query": query, "results": results}).data)
