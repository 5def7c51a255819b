"""Service credentials of external capabilities on the REST API:
`Authorization: Bearer <credential>`. A service reports its own capability's
usage for the organizations that use it (capabilities.usage_events.may_report
is the rule); it is nobody's member and reaches no other endpoint."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from capabilities import services
from capabilities.models import ServiceCredential

KEYWORD = "Bearer"


class ServiceClient:
    """The principal of a request made with a service credential."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_finance = False
    is_superuser = False
    pk = None

    def __init__(self, credential: ServiceCredential) -> None:
        self.credential = credential
        self.capability: str = credential.capability.key

    def __str__(self) -> str:
        return f"service credential {self.credential.prefix} of {self.capability}"


class ServiceCredentialAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ServiceClient, ServiceCredential] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        keyword, _, secret = header.partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("The credential is missing after “Bearer”.")
        try:
            credential = services.verified_credential(secret)
        except services.CredentialRefused as refusal:
            raise exceptions.AuthenticationFailed(str(refusal)) from None
        if credential is None:
            raise exceptions.AuthenticationFailed("This service credential is not valid.")
        return ServiceClient(credential), credential

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ServiceCredentialScheme(OpenApiAuthenticationExtension):
    target_class = "capabilities.api.authentication.ServiceCredentialAuthentication"
    name = "ServiceCredential"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An external capability's service credential: it reports its own usage only.",
        }
