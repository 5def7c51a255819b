"""Drop the page table's index on document_id alone: the unique constraint
(document, number) starts with it, and every stored page was written into
both. Only the index: the foreign key stays as it is (see
capabilities.0013_redundant_fk_indexes)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0003_content_hash"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="page",
                    name="document",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pages",
                        to="documents.document",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "documents_page_document_id_cf356d1a"',
                    reverse_sql=(
                        'CREATE INDEX IF NOT EXISTS "documents_page_document_id_cf356d1a" '
                        'ON "documents_page" ("document_id")'
                    ),
                ),
            ],
        ),
    ]
