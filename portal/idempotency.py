"""Idempotency keys of API writes, with Stripe's semantics: the first request
with a key runs and its answer is kept; the same request again with that key
within 24 hours gets the kept answer and runs nothing.

Keys belong to an organization (as Stripe's belong to an account), so two
organizations may use the same key for unrelated requests.

Why a request is never run twice, even when a process dies:

1. Before the request runs, its key is *claimed*: a row in state
   `in_progress` is inserted and committed in a transaction of its own. The
   unique constraint on (organization, key) lets exactly one of any number of
   concurrent requests insert it; every other one finds the row and answers
   409 (`idempotency_key_in_use`) without running.
2. The request runs: the action commits its own work (durable transactions).
3. Its answer is written to the row (state `finished`). From then on, the same
   request replays the answer.

A process that dies between 1 and 3 leaves the row `in_progress` for good. We
cannot tell whether it died before or after step 2 committed, so we must not
guess: after IDEMPOTENCY_STALE_AFTER seconds such a key answers 409
`idempotency_outcome_unknown`, telling the client to look at the list (of
documents, jobs…) before retrying with a new key. Running it again could bill
twice; refusing costs the client one look. Only when the key is older than 24
hours is it forgotten (and pruned), as Stripe does.

A request that was refused before it did anything (a validation error, a
permission the handler checks, a 404) releases its key: nothing is kept and
the same key may be sent again, corrected. The API views only refuse before
their action commits, and an action's refusal rolls its transaction back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.models import IdempotencyKey

logger = logging.getLogger(__name__)

# Stripe keeps keys for at least 24 hours; so do we, then they are pruned.
KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class RequestPrint:
    """What makes two requests "the same request" for one key."""

    method: str
    path: str
    fingerprint: str  # sha256 (hex) of the canonical body


@dataclass(frozen=True)
class Claim:
    """This request holds the key: it runs, then finishes or releases it."""

    pk: int


@dataclass(frozen=True)
class StoredResponse:
    status: int
    content_type: str
    body: bytes


class KeyRefused(Exception):
    """The request must not run; `code` says why."""

    code = "idempotency_key_refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyReused(KeyRefused):
    code = "idempotency_key_reused"


class KeyInUse(KeyRefused):
    code = "idempotency_key_in_use"


class OutcomeUnknown(KeyRefused):
    code = "idempotency_outcome_unknown"


def key_problem(key: str) -> str | None:
    """Why `key` cannot be used as an idempotency key, or None."""
    if not key.strip():
        return "The Idempotency-Key header is empty; send a unique value (a UUID, say) or leave it out."
    if len(key) > MAX_KEY_LENGTH:
        return (
            f"The Idempotency-Key header is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed."
        )
    return None


def claim(
    organization_id: int, key: str, request: RequestPrint, *, now: datetime | None = None
) -> Claim | StoredResponse:
    """Claim `key` for `request`, or return the answer kept for it. Raises
    KeyReused (another request used the key), KeyInUse (the first request is
    still running) or OutcomeUnknown (the first request's process died)."""
    now = now or timezone.now()
    try:
        with transaction.atomic(durable=True):
            # A key older than 24 hours is forgotten: this request is a new one.
            IdempotencyKey.objects.filter(
                organization_id=organization_id, key=key, created_at__lt=now - KEY_TTL
            ).delete()
            row = IdempotencyKey.objects.create(
                organization_id=organization_id,
                key=key,
                method=request.method,
                path=request.path,
                fingerprint=request.fingerprint,
                created_at=now,
            )
        return Claim(row.pk)
    except IntegrityError:
        pass  # the key is taken: by this request before, or by another one
    first = IdempotencyKey.objects.filter(organization_id=organization_id, key=key).first()
    if first is None:  # released in the meantime: its request had done nothing
        raise KeyInUse("A request with this Idempotency-Key was just refused; send it again.")
    if (first.method, first.path, first.fingerprint) != (request.method, request.path, request.fingerprint):
        raise KeyReused(
            f"This Idempotency-Key was used for another request ({first.method} {first.path}) in the last "
            "24 hours. Use a new key for a new request."
        )
    if first.status == IdempotencyKey.Status.IN_PROGRESS:
        if now - first.created_at > timedelta(seconds=settings.IDEMPOTENCY_STALE_AFTER):
            raise OutcomeUnknown(
                "The first request with this Idempotency-Key stopped before it answered; whether it did "
                "its work is unknown. Check the list before retrying with a new key."
            )
        raise KeyInUse("A request with this Idempotency-Key is still in progress; wait for it and retry.")
    return StoredResponse(
        status=first.response_status or 200,
        content_type=first.response_content_type,
        body=bytes(first.response_body),
    )


def finish(held: Claim, response: StoredResponse) -> None:
    """Keep the answer of the request that held the key, for its replays."""
    IdempotencyKey.objects.filter(pk=held.pk).update(
        status=IdempotencyKey.Status.FINISHED,
        finished_at=timezone.now(),
        response_status=response.status,
        response_content_type=response.content_type,
        response_body=response.body,
    )


def release(held: Claim) -> None:
    """The request was refused before it did anything: forget the key."""
    IdempotencyKey.objects.filter(pk=held.pk, status=IdempotencyKey.Status.IN_PROGRESS).delete()


def prune(*, now: datetime | None = None) -> int:
    """Delete keys older than 24 hours; returns how many."""
    cutoff = (now or timezone.now()) - KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    if deleted:
        logger.info("Pruned %d idempotency keys older than %s", deleted, cutoff.isoformat())
    return deleted
