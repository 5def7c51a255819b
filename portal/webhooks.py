"""Signed webhooks: the JSON body, the HMAC-SHA256 signature header and how a
receiver verifies it, shared by platform alerts and the Notifications
capability so that a receiver checks both the same way.

How a receiver verifies a webhook: read the raw body and the header
`X-Switchboard-Signature: t=<unix seconds>,v1=<hex>`, compute
`HMAC-SHA256(secret, "<t>.<raw body>")` as hex, compare it with `v1` in
constant time, and reject a `t` older than a few minutes (replays).
`X-Switchboard-Delivery` is the delivery id: the same message retried keeps it,
so a receiver can drop duplicates; `X-Switchboard-Event` names what happened."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from portal.outbound import Limits, Outcome, post

SIGNATURE_HEADER = "X-Switchboard-Signature"
DELIVERY_HEADER = "X-Switchboard-Delivery"
EVENT_HEADER = "X-Switchboard-Event"


def new_secret() -> str:
    """A signing secret for a new or rotated webhook."""
    return f"whsec_{secrets.token_hex(24)}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" with the webhook's secret."""
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


def post_webhook(
    url: str, secret: str, payload: dict[str, Any], *, delivery_id: int | str, event: str, limits: Limits
) -> Outcome:
    """One signed POST of `payload` to `url` (checked against SSRF first)."""
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: event,
    }
    return post(url, body, headers, limits)
