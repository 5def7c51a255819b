"""The `Idempotency-Key` header on API writes: `@idempotent` on a view's
handler claims the key, runs the handler once and replays its answer (see
portal.idempotency for the rules and why nothing runs twice)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBase
from django.http.request import RawPostDataException
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import idempotency
from portal.api.permissions import organization_of

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

# Answers that say the request never ran are not kept (it may be sent again):
# the statuses, and what a handler raises to refuse (DRF renders those).
NOT_KEPT = {401, 403, 429}
REFUSALS = (exceptions.APIException, Http404, PermissionDenied)


class IdempotencyKeyInvalid(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_invalid"


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def fingerprint(request: Request) -> str:
    """sha256 of the request's body in a canonical form, so that a retry of the
    same request matches whatever its encoding: a form's fields sorted, with
    each file's field, name and content hash (never the raw multipart body,
    whose boundary changes between retries); JSON with sorted keys; any other
    body as its bytes. The query string counts too."""
    digest = hashlib.sha256()
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    query = sorted((name, values) for name, values in request.query_params.lists())
    if media_type in FORM_TYPES:
        fields = sorted((name, values) for name, values in request.POST.lists())
        files = []
        for name, uploads in request.FILES.lists():
            for upload in uploads:
                content = hashlib.sha256()
                upload.seek(0)
                for chunk in upload.chunks():
                    content.update(chunk)
                upload.seek(0)
                files.append([name, upload.name or "", content.hexdigest()])
        canonical = json.dumps({"query": query, "form": fields, "files": sorted(files)}, sort_keys=True)
        digest.update(canonical.encode())
    elif media_type.endswith("json"):
        canonical = json.dumps({"query": query, "json": request.data}, sort_keys=True, separators=(",", ":"))
        digest.update(canonical.encode())
    else:
        digest.update(json.dumps({"query": query}, sort_keys=True).encode())
        try:
            digest.update(request._request.body)
        except RawPostDataException:  # already parsed by DRF: hash what it read
            digest.update(json.dumps(request.data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _server_error() -> HttpResponse:
    body = {
        "detail": "The request failed on our side and may have done part of its work. "
        "Check the list before retrying with a new Idempotency-Key.",
        "code": "server_error",
    }
    return HttpResponse(json.dumps(body), status=500, content_type="application/json")


Handler = TypeVar("Handler", bound=Callable[..., HttpResponseBase])


def idempotent(handler: Handler) -> Handler:
    """Make a DRF view's write handler honour `Idempotency-Key` (scoped to the
    caller's organization). Without the header, the handler runs as before.
    Authentication, permissions and throttling ran before the handler: their
    refusals (401, 403, 429) never touch a key."""

    @functools.wraps(handler)
    def run_once(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        problem = idempotency.key_problem(key)
        if problem:
            raise IdempotencyKeyInvalid(problem)
        organization = organization_of(request)
        request_print = idempotency.RequestPrint(request.method or "POST", request.path, fingerprint(request))
        try:
            outcome = idempotency.claim(organization.pk, key, request_print)
        except idempotency.KeyReused as reused:
            raise IdempotencyKeyReused(reused.message, code=reused.code) from None
        except idempotency.KeyRefused as refused:
            raise IdempotencyConflict(refused.message, code=refused.code) from None
        if isinstance(outcome, idempotency.StoredResponse):
            replay = HttpResponse(outcome.body, status=outcome.status, content_type=outcome.content_type)
            replay[REPLAYED_HEADER] = "true"
            return replay
        try:
            response = handler(view, request, *args, **kwargs)
        except REFUSALS:
            idempotency.release(outcome)  # refused before its action did anything
            raise
        except Exception:
            logger.exception(
                "API write failed with an Idempotency-Key (organization %s, %s %s)",
                organization.pk,
                request.method,
                request.path,
            )
            response = _server_error()
            _finish(outcome, response)
            return response
        if response.status_code in NOT_KEPT:
            idempotency.release(outcome)
            return response
        # Rendered here (DRF would render it a moment later) so the kept bytes
        # are exactly the ones sent.
        if isinstance(response, Response):
            response = view.finalize_response(request, response, *args, **kwargs)
            response.render()
        _finish(outcome, response)
        return response

    run_once.idempotent = True  # type: ignore[attr-defined]  # read by portal.api.schema
    return cast(Handler, run_once)


def _finish(held: idempotency.Claim, response: HttpResponseBase) -> None:
    """Keep the answer. If that fails (the database went away), the work is done
    and the client still gets its answer; the key stays in progress, and a
    retry is told the outcome is unknown, never run twice."""
    kept = idempotency.StoredResponse(
        status=response.status_code,
        content_type=response.get("Content-Type", "application/json"),
        body=bytes(getattr(response, "content", b"")),
    )
    try:
        idempotency.finish(held, kept)
    except Exception:
        logger.exception("Could not keep the answer of idempotency key %s", held.pk)
