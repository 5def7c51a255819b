"""The audit log is append-only: in the ORM and in the database itself."""

import pytest
from django.db import DatabaseError, connection, transaction

from portal.audit import record_audit
from portal.models import AuditEntry

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
    from portal.audit import Origin

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
