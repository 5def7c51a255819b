"""API keys get a scope. Keys made before scopes existed could do everything a
manager can, so they become `manage` and are marked for review: the keys page
asks owners and admins to review them, and each organization that had keys gets
an audit entry saying so."""

from typing import Any

from django.db import migrations, models


def note_migrated_keys(apps: Any, schema_editor: Any) -> None:
    api_key_model = apps.get_model("portal", "OrganizationAPIKey")
    audit_entry_model = apps.get_model("portal", "AuditEntry")
    organization_ids = (
        api_key_model.objects.filter(scope_migrated=True).values_list("organization_id", flat=True).distinct()
    )
    for organization_id in organization_ids:
        keys = api_key_model.objects.filter(organization_id=organization_id, scope_migrated=True)
        audit_entry_model.objects.create(
            actor=None,
            actor_email="system",
            organization_id=organization_id,
            action="api_key.scope_migrated",
            details={"scope": "manage", "prefixes": sorted(keys.values_list("prefix", flat=True))},
        )


class Migration(migrations.Migration):
    dependencies = [("portal", "0003_idempotency_key")]

    operations = [
        migrations.AddField(
            model_name="organizationapikey",
            name="scope",
            field=models.CharField(
                choices=[
                    ("read", "Read (GET only)"),
                    ("use", "Use (run capabilities)"),
                    ("manage", "Manage (toggles, rules, keys)"),
                ],
                default="manage",
                max_length=8,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="organizationapikey",
            name="revoked_reason",
            field=models.CharField(blank=True, max_length=200),
        ),
        # Every key existing now was made before scopes: marked for review.
        migrations.AddField(
            model_name="organizationapikey",
            name="scope_migrated",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name="organizationapikey",
            name="scope_migrated",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(note_migrated_keys, migrations.RunPython.noop),
    ]
