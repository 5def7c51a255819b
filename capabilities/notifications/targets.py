"""Where a notification may go: email addresses and webhook URLs, checked when
a rule is saved and again (webhooks) before every call, so a webhook cannot be
pointed at the portal's own network (SSRF): every address the name resolves to
must be public, IPv4 addresses carried inside IPv6 ones included, and the call
connects to the address that was checked."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from capabilities.capability_settings import capability_setting
from capabilities.notifications.models import Channel

MAX_TARGET_LENGTH = 500


# IPv6 forms that carry an IPv4 address; the IPv4 address is what gets reached.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052, the well-known prefix
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: translated inside a network
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d


class TargetRefused(Exception):
    """A webhook URL that may not be called; the message says why, for a person."""


@dataclass(frozen=True)
class Destination:
    """Where a webhook call goes: the address that was checked, and the name in
    the URL (for the Host header, TLS's SNI and the certificate check)."""

    scheme: str
    host: str
    port: int
    address: str


def _global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def carried_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-mapped, IPv4-compatible,
    NAT64 (both prefixes), 6to4, and Teredo's server and client."""
    carried: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        carried.append(ip.ipv4_mapped)
    if ip in NAT64 or ip in NAT64_LOCAL_USE or ip in IPV4_COMPATIBLE:
        carried.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        carried.append(ip.sixtofour)
    if ip.teredo is not None:
        carried.extend(ip.teredo)
    return carried


def is_public(address: str) -> bool:
    """Whether a webhook may connect to `address` (an IP literal)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv4Address):
        return _global(ip)
    if ip in NAT64_LOCAL_USE:
        # A local translator's prefix: where it leads depends on that network.
        return False
    carried = carried_ipv4(ip)
    if ip.ipv4_mapped is not None or ip in IPV4_COMPATIBLE or ip in NAT64:
        # The IPv6 form only wraps the IPv4 address; that is what is reached.
        return all(_global(inner) for inner in carried)
    return _global(ip) and all(_global(inner) for inner in carried)


def resolve(url: str) -> Destination:
    """Resolve the URL's host once and check every address it has; the caller
    connects to the returned address, never resolving the name again, so a
    name that changes its answer (DNS rebinding) can't switch the connection to
    an address the check would refuse. Outside production (the setting
    NOTIFICATIONS_ALLOW_PRIVATE_TARGETS) every address is allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        raise TargetRefused(f"The host {host!r} could not be resolved.") from None
    addresses = [str(sockaddr[0]) for *_, sockaddr in found]
    if not addresses:
        raise TargetRefused(f"The host {host!r} could not be resolved.")
    if not capability_setting("notifications", "ALLOW_PRIVATE_TARGETS"):
        for address in addresses:
            if not is_public(address):
                raise TargetRefused(
                    f"{host} resolves to {address}, a private, loopback or reserved address; "
                    "webhooks can only go to public addresses."
                )
    return Destination(scheme=parts.scheme, host=host, port=port, address=addresses[0])


def refused_address(url: str) -> str | None:
    """Why a webhook URL may not be called, or None."""
    try:
        resolve(url)
    except TargetRefused as refusal:
        return str(refusal)
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
