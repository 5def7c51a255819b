"""Toggle history is append-only in the database too: UPDATE and DELETE on
capabilities_togglechange fail whatever issues them."""

from django.db import migrations

from portal.append_only import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("capabilities", "0001_initial")]

    operations = [refuse_changes("capabilities_togglechange")]
