"""`POST /api/v1/events`: usage reported as CloudEvents 1.0 in structured
mode, one event (`application/cloudevents+json`) or a batch of up to 1,000
(`application/cloudevents-batch+json`). The rules are in
capabilities.usage_events; this module speaks HTTP."""

from __future__ import annotations

from typing import Any, cast

from django.db import DatabaseError
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, parsers, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from capabilities import usage_events
from capabilities.api.authentication import ServiceClient, ServiceCredentialAuthentication
from capabilities.usage_events import MAX_BATCH, Reason, Reporter, Status
from portal.api.authentication import ApiKeyClient

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
# A batch of 1,000 events of a few hundred bytes each is well under this.
MAX_BODY = 4 * 1024 * 1024

# The status of a refused single event, by reason; 400 for the others.
REFUSAL_STATUS = {
    Reason.FOREIGN_ORGANIZATION: status.HTTP_403_FORBIDDEN,
    Reason.CAPABILITY_DISABLED: status.HTTP_403_FORBIDDEN,
    Reason.BUDGET_EXHAUSTED: status.HTTP_402_PAYMENT_REQUIRED,
}


class TooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "batch_too_large"


class NotRecorded(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "not_recorded"
    default_detail = (
        "The usage could not be committed; none of it was recorded. Send the same events again: "
        "each is recorded once, by its source and id."
    )


class _CloudEventsParser(parsers.BaseParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read(MAX_BODY + 1) if stream is not None else b""
        if len(body) > MAX_BODY:
            raise TooLarge(f"The body is over {MAX_BODY // (1024 * 1024)} MiB.")
        if not body:
            raise exceptions.ParseError("The body is empty; send a CloudEvent.")
        try:
            return usage_events.parse_body(body)
        except ValueError as error:
            raise exceptions.ParseError(str(error)) from None


class CloudEventParser(_CloudEventsParser):
    media_type = SINGLE


class CloudEventBatchParser(_CloudEventsParser):
    media_type = BATCH


# --- the schema ------------------------------------------------------------------------


# Written as OpenAPI objects: a serializer can't declare fields named `source`
# and `data`. The checks themselves are capabilities.usage_events'.
REASONS = [
    Reason.MALFORMED,
    Reason.FOREIGN_ORGANIZATION,
    Reason.UNKNOWN_METER,
    Reason.BAD_QUANTITY,
    Reason.OUTSIDE_WINDOW,
    Reason.CAPABILITY_DISABLED,
    Reason.BUDGET_EXHAUSTED,
]
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A CloudEvent 1.0 reporting usage",
    "required": ["specversion", "id", "source", "type", "data"],
    "properties": {
        "specversion": {"type": "string", "enum": [usage_events.SPECVERSION]},
        "id": {
            "type": "string",
            "minLength": 1,
            "maxLength": usage_events.MAX_ID,
            "description": "Unique per source: an event is recorded once by (source, id), forever.",
        },
        "source": {
            "type": "string",
            "minLength": 1,
            "maxLength": usage_events.MAX_SOURCE,
            "description": "The reporting service (a URI reference)",
        },
        "type": {"type": "string", "minLength": 1, "description": "`<capability>.<meter>`, e.g. `ocr.pages`"},
        "subject": {
            "type": "string",
            "description": "The organization's slug; an organization API key may leave it out (its own).",
        },
        "time": {
            "type": "string",
            "format": "date-time",
            "description": "When the usage happened (RFC 3339), from 35 days ago to 5 minutes ahead; "
            "default: when received.",
        },
        "datacontenttype": {"type": "string", "enum": ["application/json"]},
        "data": {
            "type": "object",
            "required": ["quantity"],
            "properties": {
                "quantity": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": usage_events.MAX_QUANTITY,
                    "description": "Whole units used; at least 1",
                }
            },
        },
    },
}
# A batch is any JSON array: each item is checked on its own and answered in
# `results` (a malformed one is refused there, the others recorded), so no item
# makes the whole request a 4xx, which is what a schema for the items would promise.
BATCH_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": f"Up to {MAX_BATCH:,} CloudEvents, each as the single event's body "
    "(specversion, id, source, type, subject, time, datacontenttype, data.quantity); each is "
    "answered in `results`, a malformed one refused there.",
    "items": {"description": "A CloudEvent 1.0 reporting usage"},
}
OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "source", "status"],
    "properties": {
        "id": {"type": "string", "nullable": True},
        "source": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": [Status.ACCEPTED, Status.DUPLICATE, Status.REFUSED]},
        "reason": {"type": "string", "enum": REASONS, "description": "Why it was refused (refused only)"},
        "detail": {"type": "string", "description": "The refusal, for people (refused only)"},
        "code": {"type": "string", "description": "A refused single event: its reason"},
    },
}
BATCH_OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["results"],
    "properties": {"results": {"type": "array", "items": OUTCOME_SCHEMA}},
}


EXAMPLE_EVENT = {
    "specversion": "1.0",
    "id": "3f9c2a71-5d0e-4c55-9b1e-6a0d2c8e7f10",
    "source": "https://ocr.example.com/workers/7",
    "type": "ocr.pages",
    "subject": "acme",
    "time": "2026-12-05T09:30:00Z",
    "datacontenttype": "application/json",
    "data": {"quantity": 12},
}


class ServiceOrMember(permissions.BasePermission):
    """A service credential passes (`usage_events.may_report` scopes each of its
    events to its own capability); anyone else must pass the API's defaults:
    an API key or member of an active organization."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.user, ServiceClient):
            return True
        defaults = cast(list[type[permissions.BasePermission]], api_settings.DEFAULT_PERMISSION_CLASSES)
        return all(default().has_permission(request, view) for default in defaults)


class EventIngest(APIView):
    """Report usage as CloudEvents (see docs/capability-services.md)."""

    parser_classes = [CloudEventParser, CloudEventBatchParser]
    authentication_classes = [
        ServiceCredentialAuthentication,
        *cast(list[type[authentication.BaseAuthentication]], api_settings.DEFAULT_AUTHENTICATION_CLASSES),
    ]
    permission_classes = [ServiceOrMember]
    request_body_required = True  # the schema is given raw; OpenAPI must still say a body is needed
    tenancy_opt_out = (
        "a service credential reports for the organizations that use its capability; "
        "others pass the default tenancy permissions (ServiceOrMember)"
    )

    @extend_schema(
        summary="Report usage as CloudEvents",
        description=(
            "One event (`application/cloudevents+json`: 202 accepted, 200 duplicate, or refused with "
            "400, 402 `budget_exhausted` or 403 and its reason) or a batch of up to 1,000 "
            "(`application/cloudevents-batch+json`: 200 with one result per event, in order; the "
            "accepted ones are committed even when others are refused). `type` is "
            "`<capability>.<meter>`, `subject` the organization's slug, `data.quantity` a whole number "
            "of units. Each event is recorded exactly once by (`source`, `id`), forever: a resent "
            "event answers `duplicate` and counts nothing."
        ),
        request={
            SINGLE: EVENT_SCHEMA,
            BATCH: BATCH_SCHEMA,
        },
        responses={
            200: OpenApiResponse(
                BATCH_OUTCOME_SCHEMA,
                description="A batch, processed: one result per event. A single event: a duplicate "
                "(recorded before; nothing counted), as an EventOutcome.",
            ),
            202: OpenApiResponse(OUTCOME_SCHEMA, description="A single event, recorded"),
            400: OpenApiResponse(
                description="Not CloudEvents (invalid JSON, a batch that is not an array), or a single "
                "event refused: `malformed`, `unknown_meter`, `bad_quantity`, `outside_window`"
            ),
            402: OpenApiResponse(description="A single event refused: `budget_exhausted`"),
            403: OpenApiResponse(
                description="A single event refused: `foreign_organization` or `capability_disabled`; "
                "or a caller that reports no usage (a signed-in person, a read-scope key)"
            ),
            413: OpenApiResponse(description="More than 1,000 events, or a body over 4 MiB"),
            415: OpenApiResponse(description="Not a CloudEvents structured-mode media type"),
            503: OpenApiResponse(description="Not committed: nothing recorded; send the same events again"),
        },
        examples=[OpenApiExample("Pages recognised", value=EXAMPLE_EVENT, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        reporter = reporter_of(request)
        received_at = timezone.now()
        media_type = request.content_type.split(";")[0].strip().lower()
        if request.stream is None:  # an empty body, which DRF does not parse
            if media_type not in (SINGLE, BATCH):
                raise _unsupported(request)
            raise exceptions.ParseError("The body is empty; send a CloudEvent.")
        try:
            body = request.data
        except exceptions.UnsupportedMediaType:
            raise _unsupported(request) from None
        batch = media_type == BATCH
        if batch:
            if not isinstance(body, list):
                raise exceptions.ParseError(f"A batch ({BATCH}) is a JSON array of CloudEvents.")
            if len(body) > MAX_BATCH:
                raise TooLarge(f"A batch holds at most {MAX_BATCH:,} events; this one has {len(body):,}.")
            events: list[object] = body
        else:
            if isinstance(body, list):
                raise exceptions.ParseError(f"Send a JSON array of events as {BATCH}, one event as {SINGLE}.")
            events = [body]
        try:
            outcomes = usage_events.record(reporter, events, received_at)
        except DatabaseError:
            raise NotRecorded() from None
        if batch:
            return Response({"results": [outcome.as_dict() for outcome in outcomes]})
        return _single_answer(outcomes[0])


def _unsupported(request: Request) -> exceptions.UnsupportedMediaType:
    return exceptions.UnsupportedMediaType(
        request.content_type,
        detail=f"Send CloudEvents in structured mode: Content-Type {SINGLE} (one event) or "
        f"{BATCH} (a JSON array of up to {MAX_BATCH:,}), not {request.content_type or 'none'}.",
    )


def _single_answer(outcome: usage_events.Outcome) -> Response:
    answer = outcome.as_dict()
    if outcome.status == Status.ACCEPTED:
        return Response(answer, status=status.HTTP_202_ACCEPTED)
    if outcome.status == Status.DUPLICATE:
        return Response(answer, status=status.HTTP_200_OK)
    assert outcome.reason is not None
    # The API's error shape (`detail`, `code`) with the event's result.
    answer["code"] = outcome.reason
    return Response(answer, status=REFUSAL_STATUS.get(outcome.reason, status.HTTP_400_BAD_REQUEST))


def reporter_of(request: Request) -> Reporter:
    """Who reports: an organization API key reports for its organization and
    any capability; an external capability's service credential for any
    organization that uses it, its own capability only. A signed-in person
    reports no usage."""
    user = request.user
    if isinstance(user, ServiceClient):
        return Reporter(organization=None, capability=user.capability, label=str(user))
    if isinstance(user, ApiKeyClient):
        return Reporter(organization=user.organization, label=str(user))
    raise exceptions.PermissionDenied(
        "Usage is reported by services, with their service credential (Authorization: Bearer <credential>) "
        "or an organization API key (Authorization: Api-Key <key>).",
        code="reporter_required",
    )
