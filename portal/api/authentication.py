"""Organization API keys for the REST API: `Authorization: Api-Key <key>`."""

from __future__ import annotations

import hashlib
from typing import Any, cast

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal import verified_keys
from portal.models import SCOPE_ROLES, Membership, Organization, OrganizationAPIKey, User

KEYWORD = "Api-Key"


class ApiKeyClient:
    """The principal of a request made with an organization API key: it acts for
    the key's organization only and holds no user's permissions."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_finance = False
    is_superuser = False
    pk = None

    def __init__(self, api_key: OrganizationAPIKey) -> None:
        self.api_key = api_key
        self.organization: Organization = api_key.organization
        self.scope: str = api_key.scope

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix} of {self.organization.slug}"


class OrganizationApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyClient, OrganizationAPIKey] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        keyword, _, secret = header.partition(" ")
        if keyword != KEYWORD:
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("The API key is missing after “Api-Key”.")
        api_key = verified_api_key(secret)
        return ApiKeyClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def verified_api_key(secret: str) -> OrganizationAPIKey:
    """The valid, unrevoked, unexpired organization API key whose full secret
    is `secret` (its last use noted), or AuthenticationFailed saying why not.
    The REST API and the OFREP flag endpoints both authenticate with it.
    Verified lately, it is answered from this process's memory (its expiry
    still checked; see portal.verified_keys)."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    remembered = verified_keys.recall(digest)
    if remembered is not None and not remembered.has_expired:
        return remembered
    api_key = _verify(secret)
    verified_keys.remember(digest, api_key)
    return api_key


def _verify(secret: str) -> OrganizationAPIKey:
    prefix = secret.partition(".")[0]
    api_key = (
        OrganizationAPIKey.objects.select_related("organization").filter(prefix=prefix, revoked=False).first()
    )
    if api_key is None or not api_key.is_valid(secret):
        raise exceptions.AuthenticationFailed("This API key is not valid or was revoked.")
    if api_key.has_expired:
        assert api_key.expiry_date is not None
        raise exceptions.AuthenticationFailed(
            f"This API key expired on {api_key.expiry_date:%Y-%m-%d %H:%M} UTC; "
            "an owner or admin can create a new one on the API keys page.",
            code="api_key_expired",
        )
    # Last use is shown to admins; minute precision spares a write per request.
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        OrganizationAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


def request_organizations(request: Request) -> Any:
    """The organizations the caller may act for, as a queryset."""
    user = request.user
    if isinstance(user, ApiKeyClient):
        return Organization.objects.filter(pk=user.organization.pk)
    if user.is_staff or getattr(user, "is_finance", False):
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=cast(User, user))


def request_organization(request: Request) -> Organization | None:
    """The organization an API request acts for: the API key's, or the signed-in
    user's current organization (chosen in the portal)."""
    user = request.user
    if isinstance(user, ApiKeyClient):
        return user.organization
    return getattr(request._request, "organization", None)


def request_role(request: Request) -> str | None:
    """The role the caller acts as in its organization: the signed-in member's,
    or for an API key the role of its scope (read: billing, use: member,
    manage: admin). None for someone who is not a member."""
    user = request.user
    if isinstance(user, ApiKeyClient):
        return SCOPE_ROLES[user.scope]
    membership: Membership | None = getattr(request._request, "membership", None)
    return membership.role if membership is not None else None


def request_actor(request: Request) -> User:
    """The user an API change is attributed to: the signed-in user, or for an API
    key the owner/admin who created it."""
    user = request.user
    if isinstance(user, ApiKeyClient):
        return user.api_key.created_by
    return cast(User, user)
