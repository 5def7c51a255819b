"""The search index of pages, per database: a GIN index on the tsvector on
PostgreSQL, an FTS5 table on SQLite (the quickstart)."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX documents_page_search_gin ON documents_page USING gin (search_vector)"
        )
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE documents_page_fts USING fts5("
            "text, organization_id UNINDEXED, tokenize = 'porter unicode61')"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS documents_page_search_gin")
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS documents_page_fts")


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
