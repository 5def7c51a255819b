"""The rollup tables leave 30 % of each page free (fillfactor 70), so that
adding to a row (every job's usage, every ingested batch) can write the row's
new version on its own page: a heap-only (HOT) update, with no new entry in
any of the table's indexes. Packed pages (the default, 100) move every
updated row to another page and index it again.

Only pages written from now on are affected; `VACUUM FULL` (an exclusive
lock, a maintenance window) repacks the existing ones."""

from django.db import migrations

TABLES = ("metering_usagerollup", "metering_usagedailyrollup", "metering_usagemonthlyrollup")
FILLFACTOR = 70


class Migration(migrations.Migration):
    dependencies = [
        ("metering", "0011_hourly_rollup_keyed_by_what_it_counts"),
    ]

    operations = [
        migrations.RunSQL(
            [f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})" for table in TABLES],
            [f"ALTER TABLE {table} RESET (fillfactor)" for table in TABLES],
        )
    ]
