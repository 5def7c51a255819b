"""Document Q&A API: ask a question, get the answer with its citations."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from capabilities.api.permissions import CapabilityEnabledForRoute
from capabilities.qa import actions
from capabilities.qa.api.serializers import AnswerSerializer, AskRefusedSerializer, AskRequestSerializer
from portal.actions.errors import ActionError
from portal.api.authentication import request_actor
from portal.api.permissions import OrganizationMember, organization_of, require_role
from portal.audit import origin_of
from portal.models import USING_ROLES

PERMISSIONS = [IsAuthenticated, OrganizationMember, CapabilityEnabledForRoute]


class Ask(generics.GenericAPIView):
    permission_classes = PERMISSIONS
    serializer_class = AnswerSerializer
    pagination_class = None

    @extend_schema(
        summary="Ask your documents",
        description="Answers `question` from the organization's indexed documents (or the ones in "
        "`documents`): the sentences that answer it, quoted, each with its citation (document, page, "
        "character offsets, the exact quote). `answer` is null when no document answers it clearly enough; "
        "only answered questions count on the `questions` meter.",
        request=AskRequestSerializer,
        responses={
            200: AnswerSerializer,
            400: OpenApiResponse(
                response=AskRefusedSerializer,
                description="An empty question, or one over the length limit (the message says the limit)",
            ),
            404: OpenApiResponse(description="`documents` names a document the organization does not have"),
        },
    )
    def post(self, request: Request) -> Response:
        # A question is billed: billing members and read-only keys may not ask.
        require_role(request, USING_ROLES, "Billing members read questions; they don't ask them.")
        body = AskRequestSerializer(data=request.data)
        if not body.is_valid():
            raise exceptions.ValidationError(body.errors)
        try:
            _stored, result = actions.ask_question(
                request_actor(request),
                organization_of(request),
                body.validated_data["question"],
                documents=body.validated_data.get("documents"),
                origin=origin_of(request),
            )
        except actions.UnknownDocuments as unknown:
            raise exceptions.NotFound(unknown.message) from None
        except ActionError as refusal:
            raise exceptions.ValidationError({"detail": refusal.message}, code=refusal.code) from None
        return Response(
            AnswerSerializer(
                {
                    "question": result.question,
                    "mode": result.mode,
                    "answer": result.text,
                    "citations": [citation.as_json() for citation in result.citations],
                    "closest": [citation.as_json() for citation in result.closest],
                    "note": result.note,
                }
            ).data
        )
