"""The search index of pages: a GIN index on their tsvector."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX documents_page_search_gin ON documents_page USING gin (search_vector)",
            "DROP INDEX IF EXISTS documents_page_search_gin",
        )
    ]
