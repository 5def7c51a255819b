"""OpenAPI description of the organization API key scheme and of the
Idempotency-Key header."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter


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
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Up to 255 characters, unique per request (a UUID, say), scoped to the organization. "
    "Sent again with the same request within 24 hours, the first answer is replayed (with "
    "`Idempotent-Replayed: true`) and nothing is done again.",
)

_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}
IDEMPOTENCY_RESPONSES = {
    "409": {
        "description": "`idempotency_key_in_use`: a request with this Idempotency-Key is still in "
        "progress; or `idempotency_outcome_unknown`: it stopped before answering, so check the list "
        "before retrying with a new key.",
        "content": {"application/json": {"schema": _ERROR}},
    },
    "422": {
        "description": "`idempotency_key_reused`: this Idempotency-Key was used for a different "
        "request (another path or body) in the last 24 hours.",
        "content": {"application/json": {"schema": _ERROR}},
    },
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the Idempotency-Key header and its 409 and
    422 answers on every handler marked `@idempotent` (portal.api.idempotency)."""

    def _idempotent(self) -> bool:
        handler = getattr(self.view, self.method.lower(), None)
        return bool(getattr(handler, "idempotent", False))

    def get_override_parameters(self):  # type: ignore[no-untyped-def]
        parameters = super().get_override_parameters()
        if self._idempotent():
            parameters = [*parameters, IDEMPOTENCY_KEY]
        return parameters

    def get_operation(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self._idempotent():
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
