"""The SSRF rules of webhook targets: every address a name resolves to must be
public, the IPv4 address inside an IPv6 form included (IPv4-mapped,
IPv4-compatible, NAT64, 6to4, Teredo), and the call connects to the address
that was checked, so a name that answers differently the second time (DNS
rebinding) can't switch it."""

from __future__ import annotations

import socket

import pytest
import urllib3.util.connection

from capabilities.notifications import channels, targets
from tests.capabilities.notifications.receiver import webhook_receiver

# 169.254.169.254 (the cloud metadata address) and 127.0.0.1, carried in IPv6.
CARRYING_A_PRIVATE_IPV4 = {
    "NAT64": "64:ff9b::a9fe:a9fe",
    "NAT64 local use": "64:ff9b:1::a9fe:a9fe",
    "6to4": "2002:a9fe:a9fe::1",
    "Teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # client 192.0.2.45, server 65.54.227.120
    "Teredo, private server": "2001:0:a9fe:a9fe::1",
    "IPv4-compatible": "::a9fe:a9fe",
    "IPv4-compatible loopback": "::7f00:1",
    "IPv4-mapped": "::ffff:169.254.169.254",
    "IPv4-mapped loopback": "::ffff:127.0.0.1",
}


@pytest.fixture
def production(capability_settings):
    capability_settings("notifications", ALLOW_PRIVATE_TARGETS=False)


@pytest.mark.parametrize("form", CARRYING_A_PRIVATE_IPV4)
def test_an_ipv6_form_carrying_a_private_ipv4_is_refused(production, form):
    address = CARRYING_A_PRIVATE_IPV4[form]
    assert not targets.is_public(address)
    refusal = targets.refused_address(f"https://[{address}]/hook")
    assert refusal and "private, loopback or reserved" in refusal


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_and_forms_carrying_a_public_ipv4_pass(address):
    assert targets.is_public(address)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "::1", "::", "fe80::1", "fc00::1"]
)
def test_private_loopback_and_reserved_addresses_are_refused(address):
    assert not targets.is_public(address)


def _rebinding_resolver(monkeypatch, name: str, answers: list[str]) -> list[str]:
    """socket.getaddrinfo answering `name` with the next of `answers` at each
    call (the last one repeats); other names resolve as usual. Returns the
    names it was asked, in order."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(host)
        if host != name:
            return real(host, port, *args, **kwargs)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_rebinding_name_cannot_switch_the_connection_to_a_private_address(production, monkeypatch):
    """The name answers a public address when checked and 127.0.0.1 after;
    the connection goes to the public address (here refused on purpose, so
    nothing leaves the machine) and the local receiver gets nothing."""
    with webhook_receiver([200]) as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        asked = _rebinding_resolver(monkeypatch, "hooks.rebind.test", ["93.184.216.34", "127.0.0.1"])
        connected: list[tuple[str, int]] = []

        def create_connection(address, *args, **kwargs):  # type: ignore[no-untyped-def]
            connected.append(address)
            raise ConnectionRefusedError("not leaving the test machine")

        monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
        outcome = channels.post_webhook(
            f"http://hooks.rebind.test:{port}/hook", "secret", {"a": 1}, delivery_id=1, event="job.succeeded"
        )
    assert connected == [("93.184.216.34", port)]
    assert asked.count("hooks.rebind.test") == 1
    assert not outcome.delivered and outcome.error.startswith("Could not connect")
    assert receiver.received == []


def test_the_call_goes_to_the_resolved_address_with_the_name_as_host(monkeypatch):
    """Outside production private addresses are allowed: the name resolves
    (once) to the local receiver, which sees the URL's name in Host."""
    with webhook_receiver([200]) as receiver:
        port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
        asked = _rebinding_resolver(monkeypatch, "hooks.pinned.test", ["127.0.0.1", "192.0.2.1"])
        outcome = channels.post_webhook(
            f"http://hooks.pinned.test:{port}/hook?x=1", "secret", {"a": 1}, delivery_id=7, event="job.failed"
        )
    assert outcome.delivered and outcome.status_code == 200
    [call] = receiver.received
    assert call.path == "/hook?x=1"
    assert call.headers["Host"] == f"hooks.pinned.test:{port}"
    assert channels.verify("secret", call.headers[channels.SIGNATURE_HEADER], call.body)
    assert asked.count("hooks.pinned.test") == 1


def test_a_name_with_any_private_address_is_refused(production, monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "mixed.test":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::7f00:1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    outcome = channels.post_webhook("https://mixed.test/hook", "s", {}, delivery_id=1, event="job.succeeded")
    assert not outcome.delivered and not outcome.retryable
    assert "64:ff9b::7f00:1" in outcome.error
