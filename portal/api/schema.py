"""OpenAPI description of the organization API key scheme, of the
Idempotency-Key header, and of the error answers every operation shares (one
`Error` schema and reusable responses, so the schema says every status code
the API can answer)."""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import CursorPagination, PageNumberPagination

NOT_FOUND_PAGINATIONS = (CursorPagination, PageNumberPagination)


class OrganizationApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "portal.api.authentication.OrganizationApiKeyAuthentication"
    name = "OrganizationApiKey"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An organization API key, sent as `Api-Key <key>`.",
        }


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Up to 255 characters, unique per request (a UUID, say), scoped to the organization. "
    "Sent again with the same request within 24 hours, the first answer is replayed (with "
    "`Idempotent-Replayed: true`) and nothing is done again.",
)

# A multipart field of one or more files: each a file part (with a file name), not a text field.
# No minLength on a file: an empty file is answered by the endpoint (Documents names it under
# `rejected` and stores the others), so the schema must not call the request invalid.
FILE_PARTS = {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}}

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# Added to the schema's components by `add_error_components`.
ERROR_COMPONENTS = {
    "schemas": {
        "Error": {
            "type": "object",
            "description": "Every error under /api/: a sentence for a person and a stable code for a "
            "program. Some errors add fields (`errors`, `related`, `problems`, `rejected`).",
            "properties": {
                "detail": {"type": "string"},
                "code": {"type": "string"},
                "errors": {
                    "description": "`invalid`: what is wrong, per field (a list of messages for each).",
                    "oneOf": [{"type": "object"}, {"type": "array"}],
                },
            },
            "required": ["detail", "code"],
        }
    },
    "responses": {
        "BadRequest": {
            "description": "Invalid parameters or body: `invalid` with `errors` per field, "
            "`parse_error`, or another code saying what is wrong.",
            "content": {"application/json": {"schema": ERROR_REF}},
        },
        "Unauthorized": {
            "description": "No credentials, or an API key that is not valid (`not_authenticated`, "
            "`authentication_failed`).",
            "content": {"application/json": {"schema": ERROR_REF}},
        },
        "Forbidden": {
            "description": "The caller may not do this (`permission_denied`, `capability_disabled`, "
            "`organization_suspended`, `no_organization`, `finance_required`, or a session's CSRF check).",
            "content": {"application/json": {"schema": ERROR_REF}},
        },
        "NotFound": {
            "description": "No such object in the caller's organization (`not_found`).",
            "content": {"application/json": {"schema": ERROR_REF}},
        },
        "UnsupportedMediaType": {
            "description": "The body is not in a media type this operation reads (`unsupported_media_type`).",
            "content": {"application/json": {"schema": ERROR_REF}},
        },
        "PayloadTooLarge": {
            "description": "The request body is over the limit (`request_too_large`).",
            "content": {"application/json": {"schema": ERROR_REF}},
        },
    },
}
IDEMPOTENCY_RESPONSES = {
    "409": {
        "description": "`idempotency_key_in_use`: a request with this Idempotency-Key is still in "
        "progress; or `idempotency_outcome_unknown`: it stopped before answering, so check the list "
        "before retrying with a new key.",
        "content": {"application/json": {"schema": ERROR_REF}},
    },
    "422": {
        "description": "`idempotency_key_reused`: this Idempotency-Key was used for a different "
        "request (another path or body) in the last 24 hours.",
        "content": {"application/json": {"schema": ERROR_REF}},
    },
}


def add_error_components(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the shared error schema and responses."""
    components = result.setdefault("components", {})
    for section, entries in ERROR_COMPONENTS.items():
        components.setdefault(section, {}).update(entries)
    return result


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the error answers each operation can give
    (`_error_responses`), and the Idempotency-Key header and its 409 and 422
    answers on every handler marked `@idempotent` (portal.api.idempotency)."""

    def _idempotent(self) -> bool:
        handler = getattr(self.view, self.method.lower(), None)
        return bool(getattr(handler, "idempotent", False))

    def _get_request_body(self, direction: str = "request"):  # type: ignore[no-untyped-def]
        """drf-spectacular leaves a body given as a raw schema (a dict) optional;
        a view whose handlers need one says `request_body_required = True`."""
        body = super()._get_request_body(direction)
        if body is not None and getattr(self.view, "request_body_required", False):
            body["required"] = True
        return body

    def get_override_parameters(self):  # type: ignore[no-untyped-def]
        parameters = super().get_override_parameters()
        if self._idempotent():
            parameters = [*parameters, IDEMPOTENCY_KEY]
        return parameters

    def _error_responses(self, operation: dict[str, Any]) -> dict[str, str]:
        """The shared error answers this operation can give, by status code."""
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        shared = {"401": "Unauthorized", "403": "Forbidden"}
        if has_body or any(parameter["in"] in ("query", "header") for parameter in parameters):
            shared["400"] = "BadRequest"
        paginator = getattr(self.view, "pagination_class", None)
        # An unknown id, or (cursor and page pagination) a cursor or page that doesn't exist.
        if any(parameter["in"] == "path" for parameter in parameters) or (
            self._is_list_view() and paginator is not None and issubclass(paginator, NOT_FOUND_PAGINATIONS)
        ):
            shared["404"] = "NotFound"
        if has_body:
            shared["413"] = "PayloadTooLarge"
            shared["415"] = "UnsupportedMediaType"
        return shared

    def get_operation(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return operation
        responses = operation.setdefault("responses", {})
        for code, component in self._error_responses(operation).items():
            if code not in responses:
                responses[code] = {"$ref": f"#/components/responses/{component}"}
        for code, response in responses.items():
            # A view's own description of an error ("409: locked") answers in the same format.
            if code.startswith(("4", "5")) and "$ref" not in response and not response.get("content"):
                response["content"] = {"application/json": {"schema": ERROR_REF}}
        if self._idempotent():
            responses = operation.setdefault("responses", {})
            for code, response in IDEMPOTENCY_RESPONSES.items():
                if code in responses:  # the view documents its own 409: say both
                    responses[code] = {
                        **responses[code],
                        "description": f"{responses[code].get('description', '')} Or "
                        f"{response['description']}".strip(),
                    }
                else:
                    responses[code] = response
        return operation
