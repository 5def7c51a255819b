"""Celery's Redis transport (kombu's), keeping one redis-py client per channel.

kombu's Redis channel builds a new redis-py client object for every command it
sends outside its event loop: each message published, each acknowledgement,
each unacked-message bookkeeping step. Building one costs about 0.3 ms (redis-py
fills a table of some 180 response callbacks, upper-casing each name), a fifth
of what queuing a job costs. The clients all share the channel's connection pool
and hold no state of their own between commands, so one client per channel
sends the same commands over the same connections.

`install()` points the `redis` and `rediss` transport names (and so
`redis+socket://` URLs) at this transport. kombu chooses the transport by the
URL's scheme, which Celery's `broker_transport` setting cannot override for a
`redis+socket://` URL; kombu's table of names is where a transport registers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

NAME = f"{__name__}:Transport"


class Channel(kombu_redis.Channel):
    _shared: tuple[Any, Any] | None = None  # (the pool, the client on it)

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        # The pool is replaced after a fork and when the channel reconnects:
        # a client is only ever used with the pool it was built on.
        pool = self.pool
        if self._shared is None or self._shared[0] is not pool:
            self._shared = (pool, self._create_client())
        yield self._shared[1]


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Use this transport for Redis broker URLs from now on."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = NAME
