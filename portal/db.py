"""Database helpers every layer uses."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model
from django.db.models.expressions import DatabaseDefault, RawSQL

M = TypeVar("M", bound=Model)


def relax_durability() -> None:
    """Let this transaction commit without waiting for the WAL flush (PostgreSQL).
    For state that is rebuilt if lost (job claims, progress, lease renewals,
    delivery attempts), never usage."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def relaxed_durability() -> RawSQL:
    """`relax_durability` as a column to annotate the transaction's first
    query with (`.annotate(relaxed=relaxed_durability())`): the same setting,
    without its own round trip."""
    return RawSQL("set_config('synchronous_commit', 'off', true)", ())


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose statements PostgreSQL parses and plans once per
    connection (server-side binding, prepared statements), for the few
    statements every job runs (claim, result, enqueue): their planning cost
    more than their execution. Everything else keeps Django's client-side
    binding. Django's wrapper still logs the statements (query counts) and
    turns driver errors into django.db errors.

    Off (a plain cursor) when DATABASES' OPTIONS has no `prepare_threshold`
    (`DATABASE_PREPARED_STATEMENTS=false`: a pooler in transaction mode that
    cannot keep prepared statements, PgBouncer before 1.21)."""
    database = connections[DEFAULT_DB_ALIAS]  # not the proxy: see insert_values
    database.ensure_connection()
    raw = database.connection
    if raw is None or getattr(raw, "prepare_threshold", None) is None:
        with database.cursor() as cursor:
            yield cursor
        return
    database.validate_thread_sharing()
    inner: Any = _PreparingCursor(raw)
    logged = database.queries_logged
    wrapped = _PreparedDebugWrapper(inner, database) if logged else database.make_cursor(inner)
    with wrapped:
        yield wrapped


def insert_values(
    instance: Model, expressions: dict[str, tuple[str, Sequence[Any]]] | None = None
) -> tuple[str, list[Any]]:
    """`INSERT INTO <table> (<columns>) VALUES (<values>)` for an unsaved model
    instance, and its parameters: every concrete field as the ORM would save it
    (defaults and `auto_now_add` applied), but the primary key and database
    defaults. `expressions` gives a field (by attname) its own SQL and
    parameters instead: a value read from another row of the same statement."""
    expressions = expressions or {}
    columns: list[str] = []
    values: list[str] = []
    params: list[Any] = []
    # The connection itself, not the proxy `connection`: the proxy looks the
    # connection up again (a context-local read) at every attribute, a few
    # dozen times per insert on the path of every queued job.
    database = connections[DEFAULT_DB_ALIAS]
    quote = database.ops.quote_name
    for field in instance._meta.concrete_fields:
        if field.primary_key or isinstance(getattr(instance, field.attname), DatabaseDefault):
            continue
        columns.append(quote(str(field.column)))
        if field.attname in expressions:
            sql, extra = expressions[field.attname]
            values.append(sql)
            params.extend(extra)
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(instance, add=True), database))
    table = quote(instance._meta.db_table)
    columns_sql, values_sql = ", ".join(columns), ", ".join(values)
    return f"INSERT INTO {table} ({columns_sql}) VALUES ({values_sql})", params  # noqa: S608  # the model's columns


def saved(instance: Model, pk: Any) -> None:
    """Mark an instance inserted by hand (`insert_values`) as saved, with its new key."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias


def fetch_prepared(sql: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run `sql` on a prepared_cursor; the rows it returned."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


def instance_from_row(model: type[M], row: Sequence[Any]) -> M:
    """The `model` instance of a row whose first columns are the model's
    concrete fields in order (`model_columns`), with the fields' own
    conversions (JSON fields, say) as a queryset applies them."""
    values = []
    fields = model._meta.concrete_fields
    database = connections[DEFAULT_DB_ALIAS]  # not the proxy: see insert_values
    for field, value in zip(fields, row, strict=False):
        column: Any = field  # a converter is called with the expression: here, the field
        for converter in database.ops.get_db_converters(column) + field.get_db_converters(database):
            value = converter(value, column, database)
        values.append(value)
    return model.from_db(database.alias, [field.attname for field in fields], values)


def model_columns(model: type[Model], alias: str = "") -> str:
    """The model's concrete columns, in field order: a SELECT or RETURNING
    list that `instance_from_row` reads back. With `alias`, each is qualified
    by it (the model's table under that name in a join)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        f"{prefix}{connection.ops.quote_name(str(field.column))}" for field in model._meta.concrete_fields
    )


def get_prepared(model: type[M], **equal: Any) -> M | None:
    """The one row of `model` whose columns (by attname) equal `equal`, or
    None: a prepared statement, for a read every job of a kind makes, where
    the ORM spent longer building the query than PostgreSQL answering it.
    The columns should be a unique key (the first row is taken)."""
    rows = fetch_prepared(_select_sql(model, tuple(equal)), list(equal.values()))
    return instance_from_row(model, rows[0]) if rows else None


@lru_cache(maxsize=64)
def _select_sql(model: type[Model], names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    by_attname = {field.attname: str(field.column) for field in model._meta.concrete_fields}
    where = " AND ".join(f"{quote(by_attname[name])} = %s" for name in names)
    return f"SELECT {model_columns(model)} FROM {quote(model._meta.db_table)} WHERE {where} LIMIT 1"  # noqa: S608  # the model's names


_ServerBindingCursor: Any = ServerBindingCursor


class _PreparingCursor(_ServerBindingCursor):
    """psycopg's server-side binding cursor, preparing every statement it runs
    (Django's wrapper calls execute without psycopg's `prepare` argument)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: Any = None
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs a prepared statement as its text with placeholders (psycopg keeps
    no interpolated text of a server-side bound statement to log)."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        with self.debug_sql(sql, params):
            return CursorWrapper.execute(self, sql, params)
