"""The usage ledger is append-only in the database too: UPDATE and DELETE on
metering_usageevent fail whatever issues them. Corrections are new events."""

from django.db import migrations

from portal.append_only import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("metering", "0001_initial")]

    operations = [refuse_changes("metering_usageevent")]
