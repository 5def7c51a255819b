"""Where a notification may go: email addresses and webhook URLs, checked when
a rule is saved and again (webhooks) before every call, so a webhook cannot be
pointed at the portal's own network (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from capabilities.notifications.models import Channel

MAX_TARGET_LENGTH = 500


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refused_address(url: str) -> str | None:
    """Why a webhook URL may not be called, or None. Outside production (the
    setting NOTIFICATIONS_ALLOW_PRIVATE_TARGETS) every address is allowed."""
    if settings.NOTIFICATIONS_ALLOW_PRIVATE_TARGETS:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        return f"The host {host!r} could not be resolved."
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        if not _is_public(address):
            return (
                f"{host} resolves to {address}, a private, loopback or reserved address; "
                "webhooks can only go to public addresses."
            )
    return None


def clean_target(channel: str, value: str) -> str:
    """The target, normalised, or ValidationError with a message for a person."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Give an email address or a webhook URL to notify.", code="required")
    if len(value) > MAX_TARGET_LENGTH:
        raise ValidationError(f"Keep it under {MAX_TARGET_LENGTH} characters.", code="too_long")
    if channel == Channel.EMAIL:
        try:
            EmailValidator()(value)
        except ValidationError:
            raise ValidationError(
                f"“{value}” is not a valid email address; write it like ops@example.com.",
                code="invalid_email",
            ) from None
        return value
    if channel == Channel.WEBHOOK:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise ValidationError(
                f"“{value}” is not a valid webhook URL; write it like https://hooks.example.com/switchboard.",
                code="invalid_url",
            ) from None
        refusal = refused_address(value)
        if refusal:
            raise ValidationError(refusal, code="private_address")
        return value
    raise ValidationError("Choose email or webhook.", code="invalid_channel")
