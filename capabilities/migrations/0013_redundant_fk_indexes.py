"""Drop the job table's index on organization_id alone: both of the table's
(organization, ...) indexes start with it, and every job's row is written into
every index three times (queued, claimed, finished).

Only the index is dropped. Django's AlterField would also drop and re-add the
foreign key, which checks every row of the table again under a lock; the
constraint does not change, so the database part is the one statement."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("capabilities", "0012_service_beta_version"),
        ("portal", "0006_alert_banner_and_webhook"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="job",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="jobs",
                        to="portal.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "capabilities_job_organization_id_24ffbeb3"',
                    reverse_sql=(
                        'CREATE INDEX IF NOT EXISTS "capabilities_job_organization_id_24ffbeb3" '
                        'ON "capabilities_job" ("organization_id")'
                    ),
                ),
            ],
        ),
    ]
