"""Make the audit log append-only in the database itself: UPDATE and DELETE on
portal_auditentry fail whatever code, shell or tool issues them."""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION portal_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'portal_auditentry is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER portal_auditentry_append_only
    BEFORE UPDATE OR DELETE ON portal_auditentry
    FOR EACH ROW EXECUTE FUNCTION portal_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS portal_auditentry_append_only ON portal_auditentry;
DROP FUNCTION IF EXISTS portal_audit_append_only();
"""
SQLITE_UP = [
    """CREATE TRIGGER portal_auditentry_no_update BEFORE UPDATE ON portal_auditentry
       BEGIN SELECT RAISE(ABORT, 'portal_auditentry is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER portal_auditentry_no_delete BEFORE DELETE ON portal_auditentry
       BEGIN SELECT RAISE(ABORT, 'portal_auditentry is append-only: DELETE refused'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS portal_auditentry_no_update;",
    "DROP TRIGGER IF EXISTS portal_auditentry_no_delete;",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
