"""Calls from the portal to addresses its users typed (webhooks): a URL is
checked when it is saved and again before every call, so that it cannot be
pointed at the portal's own network (SSRF). Every address the name resolves to
must be public, IPv4 addresses carried inside IPv6 ones included, and the call
connects to the address that was checked, never resolving the name again.

Platform alerts and the Notifications capability post through here; each
passes its own settings (whether private addresses are allowed, timeouts)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

USER_AGENT = "Switchboard-Webhooks/1.0"

# IPv6 forms that carry an IPv4 address; the IPv4 address is what gets reached.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052, the well-known prefix
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: translated inside a network
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d


class TargetRefused(Exception):
    """A URL that may not be called; the message says why, for a person."""


@dataclass(frozen=True)
class Destination:
    """Where a call goes: the address that was checked, and the name in the URL
    (for the Host header, TLS's SNI and the certificate check)."""

    scheme: str
    host: str
    port: int
    address: str


@dataclass(frozen=True)
class Outcome:
    """What one attempt did; a call never raises."""

    delivered: bool
    duration_ms: int
    status_code: int | None = None
    error: str = ""
    # False when trying again cannot help (a refused address).
    retryable: bool = True


@dataclass(frozen=True)
class Limits:
    """The caller's rules for one call: seconds to connect and to wait for each
    read of the answer, and whether private addresses are allowed (outside
    production, where the quickstart and tests post to localhost)."""

    connect_timeout: float
    read_timeout: float
    allow_private: bool


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
    """Whether a call may connect to `address` (an IP literal)."""
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


def resolve(url: str, *, allow_private: bool) -> Destination:
    """Resolve the URL's host once and check every address it has; the caller
    connects to the returned address, never resolving the name again, so a
    name that changes its answer (DNS rebinding) can't switch the connection to
    an address the check would refuse."""
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
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise TargetRefused(
                    f"{host} resolves to {address}, a private, loopback or reserved address; "
                    "webhooks can only go to public addresses."
                )
    return Destination(scheme=parts.scheme, host=host, port=port, address=addresses[0])


def refused_address(url: str, *, allow_private: bool) -> str | None:
    """Why a URL may not be called, or None."""
    try:
        resolve(url, allow_private=allow_private)
    except TargetRefused as refusal:
        return str(refusal)
    return None


def clean_webhook_url(value: str, *, allow_private: bool) -> str:
    """A webhook URL a person typed, or ValidationError saying what is wrong:
    not an http(s) URL, or an address the portal refuses to call."""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise ValidationError(
            f"“{value}” is not a valid webhook URL; write it like https://hooks.example.com/switchboard.",
            code="invalid_url",
        ) from None
    refusal = refused_address(value, allow_private=allow_private)
    if refusal:
        raise ValidationError(refusal, code="private_address")
    return value


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


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started` (a time.monotonic() reading)."""
    return max(0, round((time.monotonic() - started) * 1000))


def _post(destination: Destination, url: str, body: bytes, headers: dict[str, str], limits: Limits) -> int:
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
    timeout = urllib3.Timeout(connect=limits.connect_timeout, read=limits.read_timeout)
    # Redirects are not followed: a redirect could lead to an address the
    # check would refuse. No retries here: the caller's delivery retries.
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


def post(url: str, body: bytes, headers: dict[str, str], limits: Limits) -> Outcome:
    """One POST of `body` to `url` after checking its addresses; 2xx is
    delivered, anything else (redirects included) is an error for a person."""
    started = time.monotonic()
    try:
        destination = resolve(url, allow_private=limits.allow_private)
    except TargetRefused as refusal:
        return Outcome(False, elapsed_ms(started), error=str(refusal), retryable=False)
    try:
        status = _post(destination, url, body, headers, limits)
    except urllib3.exceptions.NewConnectionError as error:  # urllib3 files it under timeouts too
        return Outcome(False, elapsed_ms(started), error=f"Could not connect: {_error_name(error)}.")
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        return Outcome(
            False,
            elapsed_ms(started),
            error=(
                f"Timed out (limit {limits.connect_timeout}s to connect, {limits.read_timeout}s to answer)."
            ),
        )
    except (urllib3.exceptions.HTTPError, OSError) as error:
        return Outcome(False, elapsed_ms(started), error=f"Could not connect: {_error_name(error)}.")
    elapsed = elapsed_ms(started)
    if 200 <= status < 300:
        return Outcome(True, elapsed, status_code=status)
    reason = "redirects are not followed" if 300 <= status < 400 else "not a 2xx answer"
    return Outcome(False, elapsed, status_code=status, error=f"HTTP {status}: {reason}.")


def _error_name(error: Exception) -> str:
    # urllib3 wraps the cause (refused connection, bad certificate) in its own errors.
    reason = getattr(error, "reason", None)
    return type(reason if isinstance(reason, Exception) else error).__name__
