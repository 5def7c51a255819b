"""Sending one message: an email through Django's email backend, or a webhook
POST signed with HMAC-SHA256. Each call is one attempt with short timeouts; it
reports what happened and never raises.

How a receiver verifies a webhook: read the raw body and the header
`X-Switchboard-Signature: t=<unix seconds>,v1=<hex>`, compute
`HMAC-SHA256(secret, "<t>.<raw body>")` as hex, compare it with `v1` in
constant time, and reject a `t` older than a few minutes (replays).
`X-Switchboard-Delivery` is the delivery id: the same message retried keeps it,
so a receiver can drop duplicates."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.mail import EmailMessage

from capabilities.notifications.targets import refused_address

SIGNATURE_HEADER = "X-Switchboard-Signature"
DELIVERY_HEADER = "X-Switchboard-Delivery"
EVENT_HEADER = "X-Switchboard-Event"
USER_AGENT = "Switchboard-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    duration_ms: int
    status_code: int | None = None
    error: str = ""
    # False when trying again cannot help (a refused address).
    retryable: bool = True


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" with the rule's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: int | None = None) -> bool:
    """What a receiver does (and what the tests check the sender against)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else int(time.time())) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), fields.get("v1", ""))


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


_session: requests.Session | None = None


def _http() -> requests.Session:
    """One session per process: connections to a receiver are reused."""
    global _session
    if _session is None:
        _session = requests.Session()
        _session.headers["User-Agent"] = USER_AGENT
    return _session


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


def post_webhook(url: str, secret: str, payload: dict[str, Any], *, delivery_id: int, event: str) -> Outcome:
    started = time.monotonic()
    refusal = refused_address(url)
    if refusal:
        return Outcome(False, _elapsed_ms(started), error=refusal, retryable=False)
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: event,
    }
    timeout = (settings.NOTIFICATIONS_CONNECT_TIMEOUT, settings.NOTIFICATIONS_READ_TIMEOUT)
    try:
        # Redirects are not followed: a redirect could lead to an address the
        # check above would refuse.
        response = _http().post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        response.close()
    except requests.Timeout:
        return Outcome(
            False,
            _elapsed_ms(started),
            error=f"Timed out (limit {timeout[0]}s to connect, {timeout[1]}s to answer).",
        )
    except requests.RequestException as error:
        return Outcome(False, _elapsed_ms(started), error=f"Could not connect: {type(error).__name__}.")
    elapsed = _elapsed_ms(started)
    if 200 <= response.status_code < 300:
        return Outcome(True, elapsed, status_code=response.status_code)
    reason = "redirects are not followed" if 300 <= response.status_code < 400 else "not a 2xx answer"
    return Outcome(
        False, elapsed, status_code=response.status_code, error=f"HTTP {response.status_code}: {reason}."
    )


def send_email(address: str, subject: str, body: str) -> Outcome:
    started = time.monotonic()
    try:
        sent = EmailMessage(subject=subject, body=body, to=[address]).send()
    except (smtplib.SMTPException, OSError) as error:
        # OSError covers refused connections and socket timeouts (EMAIL_TIMEOUT).
        return Outcome(False, _elapsed_ms(started), error=f"The mail server refused or failed: {error}"[:500])
    if not sent:
        return Outcome(False, _elapsed_ms(started), error="The email backend sent nothing.")
    return Outcome(True, _elapsed_ms(started))
