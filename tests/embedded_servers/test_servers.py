"""The embedded PostgreSQL and Redis: a second start reuses the data (Redis's
append-only file keeps a queue), a second process joins the servers instead of
starting others, and stopping leaves nothing running."""

from __future__ import annotations

import psycopg
import redis

from embedded_servers.__main__ import servers
from embedded_servers.layout import Layout
from tests.embedded_servers.processes import BARE, run_wrapper, servers_running_on


def test_a_restart_keeps_the_database_and_the_queues(server_folder):
    layout = Layout(server_folder)
    with servers(layout) as urls:
        assert servers_running_on(layout.base) == {"postgres", "redis-server"}
        with psycopg.connect(urls["DATABASE_URL"], autocommit=True) as connection:
            connection.execute("CREATE TABLE kept (note text)")
            connection.execute("INSERT INTO kept VALUES ('still here')")
            extensions = {row[0] for row in connection.execute("SELECT name FROM pg_available_extensions")}
        assert {"vector", "pg_trgm"} <= extensions
        redis.Redis.from_url(urls["REDIS_URL"]).lpush("queue", "a job's message")
    assert servers_running_on(layout.base) == set()

    with servers(layout) as urls:
        with psycopg.connect(urls["DATABASE_URL"]) as connection:
            assert connection.execute("SELECT note FROM kept").fetchall() == [("still here",)]
        assert redis.Redis.from_url(urls["REDIS_URL"]).lrange("queue", 0, -1) == [b"a job's message"]
    assert servers_running_on(layout.base) == set()


def test_a_second_process_uses_the_running_servers_and_leaves_them_running(server_folder):
    base = server_folder
    with servers(Layout(base)) as urls:
        result = run_wrapper(base, "import os; print(os.environ['DATABASE_URL'])", BARE)
        assert result.returncode == 0, result.stderr
        assert "using the servers started by process" in result.stdout
        assert urls["DATABASE_URL"] in result.stdout
        # Still up for their owner.
        assert servers_running_on(base) == {"postgres", "redis-server"}
        with psycopg.connect(urls["DATABASE_URL"]) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
    assert servers_running_on(base) == set()


def test_a_url_of_your_own_is_used_instead_of_starting_that_server(server_folder):
    base = server_folder
    result = run_wrapper(
        base,
        "import os; print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])",
        {**BARE, "DATABASE_URL": "postgres://me@db.internal/sb"},
    )
    assert result.returncode == 0, result.stderr
    assert "Redis up" in result.stdout and "PostgreSQL" not in result.stdout.split("\n")[0]
    assert f"postgres://me@db.internal/sb unix://{base}/run/redis.sock?db=0" in result.stdout
    assert not (base / "postgres").exists()
