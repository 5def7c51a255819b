"""The OFREP endpoints: single and bulk evaluation, and the provider
configuration. Plain Django views (no DRF): this is the hot path of every
service that asks a flag, and OFREP's schema is not our API's.

Order of checks: credentials (401), the rate limit (429), the request and its
context (400), the organization (403), the flag (404).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from capabilities.gate import STALENESS
from capabilities.ofrep import evaluation
from capabilities.ofrep.credentials import Credential, Refusal, authenticate, target
from portal.throttling import over_rate

CONTENT_TYPE = "application/json"


@csrf_exempt
@require_POST
def evaluate_flag(request: HttpRequest, key: str) -> HttpResponse:
    """`POST /ofrep/v1/evaluate/flags/{key}`: one capability's flag."""
    try:
        credential = _authenticated(request)
        organization_id = target(credential, _targeting_key(request))
        if not evaluation.exists(key):
            raise Refusal(404, f"No capability has the key {key!r}.", "FLAG_NOT_FOUND")
        if not credential.may_see(key):
            raise Refusal(403, f"This credential evaluates the flag {credential.capability!r} only.")
        return _json(evaluation.evaluate(organization_id, key))
    except Refusal as refusal:
        return _refused(refusal, key)


@csrf_exempt
@require_POST
def evaluate_flags(request: HttpRequest) -> HttpResponse:
    """`POST /ofrep/v1/evaluate/flags`: every flag the credential may see, with
    an ETag; `If-None-Match` with the current one answers 304."""
    try:
        credential = _authenticated(request)
        organization_id = target(credential, _targeting_key(request))
    except Refusal as refusal:
        return _refused(refusal)
    return _with_etag(request, {"flags": evaluation.evaluate_all(organization_id, credential)})


@require_GET
def configuration(request: HttpRequest) -> HttpResponse:
    """`GET /ofrep/v1/configuration`: what this flag service offers a
    provider. Names nothing of any organization, so it needs no credential."""
    staleness_ms = int(STALENESS * 1000)
    return _with_etag(
        request,
        {
            "name": "Switchboard",
            "capabilities": {
                "flagEvaluation": {"supportedTypes": ["boolean"]},
                # A change is seen within the toggle gate's bound: polling more
                # often than that finds nothing new.
                "cacheInvalidation": {"polling": {"enabled": True, "minPollingIntervalMs": staleness_ms}},
                "caching": {"enabled": True, "ttl": staleness_ms},
            },
        },
    )


def _authenticated(request: HttpRequest) -> Credential:
    credential = authenticate(request)
    retry_after = over_rate("ofrep", credential.label, settings.OFREP_RATE_LIMIT)
    if retry_after is not None:
        raise Refusal(
            429,
            f"More than {settings.OFREP_RATE_LIMIT} evaluations a second with this credential; "
            f"retry after {retry_after} s.",
            retry_after=retry_after,
        )
    return credential


def _targeting_key(request: HttpRequest) -> str:
    """The evaluation context's `targetingKey` (an organization's slug), or a
    Refusal 400 naming what is wrong with the request."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "The request body is not valid JSON.", "PARSE_ERROR") from None
    if not isinstance(body, dict):
        raise Refusal(400, "The request body must be a JSON object with a `context`.", "PARSE_ERROR")
    context = body.get("context", {})
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise Refusal(400, "`context` must be an object.", "INVALID_CONTEXT")
    slug = context.get("targetingKey")
    if slug is None or slug == "":
        raise Refusal(
            400,
            "The context has no `targetingKey`: set it to the organization's slug.",
            "TARGETING_KEY_MISSING",
        )
    if not isinstance(slug, str):
        raise Refusal(400, "`targetingKey` must be a string: the organization's slug.", "INVALID_CONTEXT")
    return slug


def _json(payload: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(payload, separators=(",", ":")), content_type=CONTENT_TYPE, status=status)


def _refused(refusal: Refusal, key: str | None = None) -> HttpResponse:
    """The error as OFREP shapes it: `errorCode` (with the flag's `key` on the
    single endpoint) for 400 and 404, `errorDetails` always."""
    payload: dict[str, Any] = {"errorDetails": refusal.details}
    if refusal.code:
        payload = {**({"key": key} if key is not None else {}), "errorCode": refusal.code, **payload}
    response = _json(payload, refusal.status)
    if refusal.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ofrep"'
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def _with_etag(request: HttpRequest, payload: dict[str, Any]) -> HttpResponse:
    """The payload with a strong ETag of its bytes; 304 (no body) when the
    request's `If-None-Match` names it (or is `*`)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    if _matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["ETag"] = etag
    return response


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether `If-None-Match` lists `etag` (weak comparison, as RFC 9110
    asks of If-None-Match) or is `*`."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False
