"""Where the embedded servers keep their files and how clients reach them.

Standard library only: the portal's settings import it to default
``DATABASE_URL`` and ``REDIS_URL`` to the quickstart's servers, and nothing else
of this package is needed for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATABASE_NAME = "switchboard"
DATABASE_USER = "postgres"


@dataclass(frozen=True)
class Layout:
    """The files of one pair of servers under a base folder (``var/`` for the
    quickstart, a temporary folder for the suite). Both listen on Unix sockets
    only, so they never clash with servers already on the machine."""

    base: Path

    @property
    def postgres_data(self) -> Path:
        return self.base / "postgres"

    @property
    def redis_data(self) -> Path:
        return self.base / "redis"

    @property
    def run(self) -> Path:
        """Sockets, pid files and the lock of the process that owns the servers."""
        return self.base / "run"

    @property
    def logs(self) -> Path:
        return self.base / "log"

    @property
    def redis_socket(self) -> Path:
        return self.run / "redis.sock"

    @property
    def redis_pidfile(self) -> Path:
        return self.run / "redis.pid"

    @property
    def lock(self) -> Path:
        return self.run / "servers.lock"

    @property
    def database_url(self) -> str:
        # libpq's form for a socket folder: empty host, `host=` parameter.
        return f"postgres://{DATABASE_USER}@/{DATABASE_NAME}?host={self.run}"

    @property
    def redis_url(self) -> str:
        return f"unix://{self.redis_socket}?db=0"


def broker_url(redis_url: str) -> str:
    """Celery's (kombu's) spelling of a Redis URL: kombu names a Unix socket
    ``redis+socket://`` and a database ``virtual_host``; redis-py, which the
    cache and the API-call counter use, reads ``unix://…?db=``."""
    if not redis_url.startswith("unix://"):
        return redis_url
    path, _, query = redis_url.removeprefix("unix://").partition("?")
    database = "0"
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "db" and value:
            database = value
    return f"redis+socket://{path}?virtual_host={database}"
