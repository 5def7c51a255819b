"""Passages record the passage settings they were cut with. Those already
there are taken as cut with the settings in effect when this migration runs
(the settings they were most likely cut with): change QA_PASSAGE_CHARS or
QA_PASSAGE_OVERLAP afterwards and they show as indexed with older settings."""

from django.db import migrations, models

from capabilities.capability_settings import capability_setting


def record_current_cut(apps, schema_editor):
    passage_model = apps.get_model("qa", "Passage")
    passage_model.objects.update(
        cut_chars=capability_setting("qa", "PASSAGE_CHARS"),
        cut_overlap=capability_setting("qa", "PASSAGE_OVERLAP"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("qa", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="passage",
            name="cut_chars",
            field=models.PositiveIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="passage",
            name="cut_overlap",
            field=models.PositiveIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.RunPython(record_current_cut, migrations.RunPython.noop),
    ]
