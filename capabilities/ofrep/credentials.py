"""Who may evaluate flags over OFREP, and for which organizations and flags.

A credential comes in the `Authorization` header (`Bearer <key>` or our
`Api-Key <key>`) or in OFREP's `X-API-Key` header. Two kinds: an
organization API key evaluates the flags of its own organization only (any
scope: evaluating is reading); an external capability's service credential
evaluates its own flag only, for any organization (a service asks for many
customers).

Evaluations are frequent and cheap, so a verified credential is remembered in
this process for `STALENESS` seconds (the toggle gate's bound): a revoked or
expired key is refused within that time, and a key is looked up in the
database at most twice a second per process.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed

from capabilities import services
from capabilities.gate import STALENESS
from portal.api.authentication import verified_api_key
from portal.models import Organization


class Refusal(Exception):
    """An OFREP request answered with an error: HTTP status, OFREP error code
    (none for 401/403/429, which the protocol gives no body schema), details."""

    def __init__(self, status: int, details: str, code: str = "", retry_after: int | None = None) -> None:
        super().__init__(details)
        self.status = status
        self.details = details
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Credential:
    """What a verified credential may evaluate.

    organization_id  the one organization it evaluates for; None: any
                     organization (a service asks for many customers)
    capability       the one flag it evaluates; None: every capability
    """

    label: str  # for the rate limit and logs; never the secret
    organization_id: int | None
    organization_slug: str = ""
    organization_active: bool = True
    capability: str | None = None

    def may_see(self, key: str) -> bool:
        return self.capability is None or self.capability == key


def resolve(secret: str) -> Credential:
    """The credential whose secret is `secret`, or Refusal 401: an external
    capability's service credential (any organization, its own flag), else an
    organization API key (its own organization, every flag)."""
    try:
        service = services.verified_credential(secret)
    except services.CredentialRefused as refusal:
        raise Refusal(401, str(refusal)) from None
    if service is not None:
        return Credential(
            label=f"service:{service.prefix}", organization_id=None, capability=service.capability.key
        )
    try:
        api_key = verified_api_key(secret)
    except AuthenticationFailed as refusal:
        raise Refusal(401, str(refusal.detail)) from None
    organization = api_key.organization
    return Credential(
        label=f"key:{api_key.prefix}",
        organization_id=organization.pk,
        organization_slug=organization.slug,
        organization_active=organization.is_active,
        capability=None,
    )


SUSPENDED = "This organization is suspended; its flags are unavailable until it is reactivated."

_verified: dict[bytes, tuple[Credential, float]] = {}
_lock = threading.Lock()
_clock = time.monotonic


def authenticate(request: HttpRequest) -> Credential:
    """The request's credential (verified at most every STALENESS seconds per
    process), or Refusal 401."""
    secret = _secret(request)
    digest = hashlib.sha256(secret.encode()).digest()
    remembered = _verified.get(digest)
    now = _clock()
    if remembered is not None and now - remembered[1] <= STALENESS:
        return remembered[0]
    credential = resolve(secret)
    with _lock:
        _verified[digest] = (credential, now)
    return credential


def forget_credentials() -> None:
    """Drop this process's verified credentials (tests)."""
    _verified.clear()


def _secret(request: HttpRequest) -> str:
    # META, not request.headers: building the headers mapping costs more than
    # the rest of an evaluation.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        keyword, _, secret = header.partition(" ")
        if keyword.lower() not in ("bearer", "api-key"):
            raise Refusal(401, "Send the API key as “Authorization: Bearer <key>” (or the X-API-Key header).")
    else:
        secret = request.META.get("HTTP_X_API_KEY", "")
    secret = secret.strip()
    if not secret:
        raise Refusal(401, "An API key is required: “Authorization: Bearer <key>” or the X-API-Key header.")
    return secret


def target(credential: Credential, slug: str) -> int:
    """The id of the organization with slug `slug`, which `credential` may
    evaluate flags for; Refusal 403 for another organization's, 400
    (INVALID_CONTEXT) for a slug no organization has (to a credential that may
    ask about any organization; others learn nothing about other slugs)."""
    if credential.organization_id is not None:
        if slug != credential.organization_slug:
            raise Refusal(403, "This API key evaluates the flags of its own organization only.")
        if not credential.organization_active:
            raise Refusal(403, SUSPENDED)
        return credential.organization_id
    found = Organization.objects.filter(slug=slug).values_list("pk", "status").first()
    if found is None:
        raise Refusal(400, f"No organization has the slug {slug!r} (the targetingKey).", "INVALID_CONTEXT")
    organization_id, status = found
    if status != Organization.Status.ACTIVE:
        raise Refusal(403, SUSPENDED)
    return int(organization_id)
