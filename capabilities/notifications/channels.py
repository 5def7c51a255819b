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
from urllib.parse import urlsplit

import certifi
import urllib3
from django.core.mail import EmailMessage

from capabilities.capability_settings import capability_setting
from capabilities.notifications.targets import Destination, TargetRefused, resolve

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


_pools: urllib3.PoolManager | None = None


def _http() -> urllib3.PoolManager:
    """One pool manager per process: connections to a receiver are reused
    (pools are keyed by the checked address and, for HTTPS, the name)."""
    global _pools
    if _pools is None:
        _pools = urllib3.PoolManager(
            num_pools=50,
            headers={"User-Agent": USER_AGENT},
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    return _pools


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


def _timeouts() -> tuple[float, float]:
    """Seconds to connect, and to wait for each read of the answer."""
    connect = capability_setting("notifications", "CONNECT_TIMEOUT")
    return connect, capability_setting("notifications", "READ_TIMEOUT")


def _post(destination: Destination, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to the address that was checked, with the URL's name as the Host
    header and, for HTTPS, as the TLS server name and the certificate's name:
    the name is not resolved again. Returns the status code."""
    parts = urlsplit(url)
    tls = {"server_hostname": destination.host, "assert_hostname": destination.host}
    pool = _http().connection_from_host(
        destination.address,
        port=destination.port,
        scheme=destination.scheme,
        pool_kwargs=tls if destination.scheme == "https" else None,
    )
    default_port = 443 if destination.scheme == "https" else 80
    host = destination.host if ":" not in destination.host else f"[{destination.host}]"
    if destination.port != default_port:
        host = f"{host}:{destination.port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connect, read = _timeouts()
    timeout = urllib3.Timeout(connect=connect, read=read)
    # Redirects are not followed: a redirect could lead to an address the
    # check would refuse. No retries here: the delivery job retries.
    response = pool.urlopen(
        "POST",
        path,
        body=body,
        headers={**headers, "Host": host},
        timeout=timeout,
        retries=False,
        redirect=False,
        preload_content=True,
        assert_same_host=False,
    )
    response.release_conn()
    return response.status


def post_webhook(url: str, secret: str, payload: dict[str, Any], *, delivery_id: int, event: str) -> Outcome:
    started = time.monotonic()
    try:
        destination = resolve(url)
    except TargetRefused as refusal:
        return Outcome(False, _elapsed_ms(started), error=str(refusal), retryable=False)
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: event,
    }
    limits = _timeouts()
    try:
        status = _post(destination, url, body, headers)
    except urllib3.exceptions.NewConnectionError as error:  # urllib3 files it under timeouts too
        return Outcome(False, _elapsed_ms(started), error=f"Could not connect: {_error_name(error)}.")
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        return Outcome(
            False,
            _elapsed_ms(started),
            error=f"Timed out (limit {limits[0]}s to connect, {limits[1]}s to answer).",
        )
    except (urllib3.exceptions.HTTPError, OSError) as error:
        return Outcome(False, _elapsed_ms(started), error=f"Could not connect: {_error_name(error)}.")
    elapsed = _elapsed_ms(started)
    if 200 <= status < 300:
        return Outcome(True, elapsed, status_code=status)
    reason = "redirects are not followed" if 300 <= status < 400 else "not a 2xx answer"
    return Outcome(False, elapsed, status_code=status, error=f"HTTP {status}: {reason}.")


def _error_name(error: Exception) -> str:
    # urllib3 wraps the cause (refused connection, bad certificate) in its own errors.
    reason = getattr(error, "reason", None)
    return type(reason if isinstance(reason, Exception) else error).__name__


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
