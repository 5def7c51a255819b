"""Database helpers every layer uses."""

from __future__ import annotations

from django.db import connection


def relax_durability() -> None:
    """Let this transaction commit without waiting for the WAL flush (PostgreSQL).
    For state that is rebuilt if lost (job claims, progress, lease renewals,
    delivery attempts), never usage."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
