"""The audit log is append-only in the database itself: UPDATE and DELETE on
portal_auditentry fail whatever code, shell or tool issues them."""

from django.db import migrations

from portal.append_only import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [refuse_changes("portal_auditentry")]
