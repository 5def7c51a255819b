"""The audit trail: append-only in the ORM and in the database itself, and an
entry names the client it came from, behind a reverse proxy too."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from rest_framework.request import Request

from portal.actions.api_keys import create_api_key
from portal.audit import Origin, origin_of, record_audit
from portal.models import AuditEntry
from tests.capabilities.state import api_key_client

pytestmark = pytest.mark.django_db


def test_entries_cannot_be_edited_or_deleted_through_the_orm(alice, acme):
    entry = record_audit(alice, "organization.created", organization=acme, target=acme)
    entry.action = "something.else"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "organization.created"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE portal_auditentry SET action = 'tampered'", "DELETE FROM portal_auditentry"],
)
def test_the_database_refuses_raw_updates_and_deletes(alice, acme, statement):
    record_audit(alice, "organization.created", organization=acme, target=acme)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEntry.objects.get().action == "organization.created"


def test_entry_records_who_what_target_and_where(alice, acme):
    entry = record_audit(
        alice,
        "membership.created",
        organization=acme,
        target=acme,
        origin=Origin(ip_address="192.0.2.7"),
        details={"role": "owner"},
    )
    assert (entry.actor_email, entry.organization, entry.target_type, entry.target_id, entry.ip_address) == (
        "alice@acme.test",
        acme,
        "organization",
        str(acme.pk),
        "192.0.2.7",
    )


CLIENT = "203.0.113.9"
PROXY = "10.0.0.2"


@pytest.fixture
def behind_one_proxy(settings):
    """What PROXY_COUNT=1 sets (portal/settings.py; test_settings checks it): the
    client's address is the one the proxy appends to X-Forwarded-For."""
    settings.AXES_IPWARE_PROXY_COUNT = 0
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.IPWARE_STRICT = False


def _request_through_proxy(forwarded_for: str = CLIENT):
    return RequestFactory().post("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)


def test_origin_is_the_connecting_address_and_the_portal_url():
    origin = origin_of(_request_through_proxy())
    # Without a proxy configured, X-Forwarded-For is anyone's to send: ignored.
    assert origin == Origin(ip_address=PROXY, base_url="http://testserver")


def test_behind_a_proxy_the_origin_is_the_forwarded_client(behind_one_proxy):
    assert origin_of(_request_through_proxy()).ip_address == CLIENT


def test_behind_a_proxy_an_address_the_client_forwards_itself_is_passed_over(behind_one_proxy):
    # The client sent X-Forwarded-For: 198.51.100.66; the proxy appended the real one.
    assert origin_of(_request_through_proxy(f"198.51.100.66, {CLIENT}")).ip_address == CLIENT


def test_behind_a_proxy_a_request_without_the_header_is_the_connecting_address(behind_one_proxy):
    assert origin_of(RequestFactory().post("/", REMOTE_ADDR=PROXY)).ip_address == PROXY


def test_an_api_request_has_the_origin_of_the_request_it_wraps(behind_one_proxy):
    http_request = _request_through_proxy()
    assert origin_of(Request(http_request)) == origin_of(http_request)


def test_an_api_change_behind_a_proxy_records_the_client_not_the_proxy(behind_one_proxy, alice, acme):
    _, secret = create_api_key(alice, acme, name="deploy", scope="manage")
    response = api_key_client(secret).put(
        "/api/v1/capabilities/ocr/toggle",
        {"enabled": True, "reason": "Scanning invoices"},
        content_type="application/json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=CLIENT,
    )
    assert response.status_code == 200, response.content
    assert AuditEntry.objects.get(action="capability.enabled").ip_address == CLIENT
