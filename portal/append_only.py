"""Append-only tables: rows are written once and never changed or deleted.

`AppendOnlyModel` refuses updates and deletes in the ORM; `refuse_changes(table)`
is the migration operation that makes the database refuse them too, whatever
issues them (a shell, another tool). Used by the audit log, toggle history and
the usage ledger."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION switchboard_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
"""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError(f"{self.model._meta.verbose_name_plural} are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self.model._meta.verbose_name_plural} are append-only")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(f"{self._meta.verbose_name_plural} are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self._meta.verbose_name_plural} are append-only")


def refuse_changes(table: str) -> migrations.RunPython:
    """A migration operation installing a trigger that refuses UPDATE and DELETE
    on `table`; reversible."""

    def install(apps: Any, schema_editor: Any) -> None:
        schema_editor.execute(_POSTGRES_FUNCTION)
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION switchboard_append_only();"
        )

    def remove(apps: Any, schema_editor: Any) -> None:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")

    return migrations.RunPython(install, remove)
