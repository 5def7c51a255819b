"""Sending one message: an email through Django's email backend, or a webhook
POST signed with HMAC-SHA256 (portal.webhooks, where the receiver's check is
described; the address is checked against SSRF by portal.outbound). Each call
is one attempt with the capability's timeouts; it reports what happened and
never raises."""

from __future__ import annotations

import smtplib
import time
from typing import Any

from django.core.mail import EmailMessage

from capabilities.capability_settings import capability_setting
from portal import webhooks
from portal.outbound import Limits, Outcome, elapsed_ms
from portal.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, encode, signature_header, verify

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "Outcome",
    "encode",
    "limits",
    "post_webhook",
    "send_email",
    "signature_header",
    "verify",
]


def limits() -> Limits:
    """The capability's settings for a webhook call (timeouts; private
    addresses allowed outside production only)."""
    return Limits(
        connect_timeout=capability_setting("notifications", "CONNECT_TIMEOUT"),
        read_timeout=capability_setting("notifications", "READ_TIMEOUT"),
        allow_private=capability_setting("notifications", "ALLOW_PRIVATE_TARGETS"),
    )


def post_webhook(url: str, secret: str, payload: dict[str, Any], *, delivery_id: int, event: str) -> Outcome:
    return webhooks.post_webhook(url, secret, payload, delivery_id=delivery_id, event=event, limits=limits())


def send_email(address: str, subject: str, body: str) -> Outcome:
    started = time.monotonic()
    try:
        sent = EmailMessage(subject=subject, body=body, to=[address]).send()
    except (smtplib.SMTPException, OSError) as error:
        # OSError covers refused connections and socket timeouts (EMAIL_TIMEOUT).
        return Outcome(False, elapsed_ms(started), error=f"The mail server refused or failed: {error}"[:500])
    if not sent:
        return Outcome(False, elapsed_ms(started), error="The email backend sent nothing.")
    return Outcome(True, elapsed_ms(started))
