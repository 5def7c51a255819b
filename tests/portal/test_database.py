"""The suite runs where it says: this process's connections, and those of the
workers and servers tests start, are on the test database."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from tests.workers import worker_environment


@pytest.mark.django_db
def test_this_process_is_connected_to_the_test_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        [(name,)] = cursor.fetchall()
    assert name == connection.settings_dict["NAME"]
    assert name.startswith("test_")


@pytest.mark.django_db
def test_a_worker_connects_to_the_database_this_process_uses():
    """What a worker started by a test connects to has this process's tables."""
    url = worker_environment()["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url) as other:
        [(name, tables)] = other.execute(
            "SELECT current_database(), count(*) FROM pg_tables WHERE tablename = 'capabilities_job'"
        ).fetchall()
    assert (name, tables) == (connection.settings_dict["NAME"], 1)
