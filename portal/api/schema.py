"""OpenAPI description of the organization API key scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
