"""Job.source: who started a job (a person, an API key, or a capability by
itself). Existing jobs: a person where one is recorded; notifications'
deliveries without one were started by a rule, automatically."""

from django.db import migrations, models


def fill_sources(apps, schema_editor):
    Job = apps.get_model("capabilities", "Job")
    Job.objects.filter(requested_by__isnull=False).update(source="person")
    Job.objects.filter(requested_by__isnull=True, capability="notifications", kind="deliver").update(
        source="automatic"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("capabilities", "0005_job_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="source",
            field=models.CharField(
                choices=[("person", "Person"), ("api_key", "API key"), ("automatic", "Automatic")],
                default="api_key",
                db_default="api_key",
                max_length=16,
            ),
        ),
        migrations.RunPython(fill_sources, migrations.RunPython.noop),
    ]
