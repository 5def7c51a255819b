"""What the broker knows about each capability's queue: how many messages wait
in it, and which workers consume it. Workers announce themselves: each
worker's main process writes its name, per queue it consumes, into a sorted
set scored by time every PRESENCE_INTERVAL seconds from a daemon thread, and
removes it when it stops. Reading that is one pipelined round trip for every
queue and costs no wait, unlike Celery's `inspect` (a broadcast that waits
its whole timeout for replies and is not answered by a solo worker busy with
a long job). A worker killed without warning drops out after PRESENCE_STALE
seconds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from portal.celery import app as celery_app

logger = logging.getLogger(__name__)

PRESENCE_INTERVAL = 10.0
PRESENCE_STALE = 3 * PRESENCE_INTERVAL
PRESENCE_KEY = "switchboard:workers:{queue}"
# kombu's Redis transport keeps a queue's prioritised messages in lists of
# their own beside the queue's (its default priority steps, joined by its
# separator); a queue's depth is the sum.
PRIORITY_LISTS = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@contextmanager
def broker_client() -> Iterator[Any]:
    """A redis-py client on the broker (not the cache: the queues are there),
    from Celery's connection pool."""
    with celery_app.pool.acquire(block=True, timeout=2) as connection:
        # Fail fast when the broker is away (a page view or a scrape must not
        # wait on kombu's default of retrying forever).
        connection.ensure_connection(max_retries=1, timeout=2)
        yield connection.default_channel.client


def queue_lengths(queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (not those a worker holds unacknowledged)."""
    with broker_client() as client:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            for suffix in PRIORITY_LISTS:
                pipe.llen(f"{queue}{suffix}")
        lengths = pipe.execute()
    steps = len(PRIORITY_LISTS)
    return {queue: sum(lengths[i * steps : (i + 1) * steps]) for i, queue in enumerate(queues)}


def workers(queues: list[str], now: float | None = None) -> dict[str, list[str]]:
    """The names of the workers that announced each queue within PRESENCE_STALE."""
    now = time.time() if now is None else now
    with broker_client() as client:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.zrangebyscore(PRESENCE_KEY.format(queue=queue), now - PRESENCE_STALE, "+inf")
        found = pipe.execute()
    return {
        queue: sorted(name.decode() for name in names) for queue, names in zip(queues, found, strict=True)
    }


def announce(hostname: str, queues: list[str], now: float | None = None) -> None:
    now = time.time() if now is None else now
    with broker_client() as client:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            key = PRESENCE_KEY.format(queue=queue)
            pipe.zadd(key, {hostname: now})
            pipe.zremrangebyscore(key, "-inf", now - 10 * PRESENCE_STALE)  # long-gone workers
            pipe.expire(key, int(10 * PRESENCE_STALE))
        pipe.execute()


def withdraw(hostname: str, queues: list[str]) -> None:
    with broker_client() as client:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.zrem(PRESENCE_KEY.format(queue=queue), hostname)
        pipe.execute()


class Presence:
    """The announcing thread of one worker's main process."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.hostname: str = consumer.hostname
        self.queues: list[str] = []
        self.stopped = threading.Event()
        self.lock = threading.Lock()  # stop() withdraws after the last announcement
        self.thread = threading.Thread(target=self._loop, name="worker-presence", daemon=True)
        self.thread.start()

    def consumed(self) -> list[str]:
        # Read each time: `celery control add_consumer` changes them at run time.
        task_consumer = getattr(self.consumer, "task_consumer", None)
        if task_consumer is None:
            return self.queues
        return sorted(queue.name for queue in task_consumer.queues)

    def _loop(self) -> None:
        while not self.stopped.is_set():
            with self.lock:
                self._announce()
            self.stopped.wait(PRESENCE_INTERVAL)

    def _announce(self) -> None:
        if self.stopped.is_set():
            return
        try:
            queues = self.consumed()
            gone = [queue for queue in self.queues if queue not in queues]
            if gone:
                withdraw(self.hostname, gone)
            announce(self.hostname, queues)
            self.queues = queues
        except Exception:
            # The broker is away: the worker can't take jobs either; try again.
            logger.warning("Could not announce worker %s", self.hostname, exc_info=True)

    def stop(self) -> None:
        self.stopped.set()
        with self.lock:
            try:
                withdraw(self.hostname, self.queues)
            except Exception:
                logger.warning(
                    "Could not withdraw worker %s; it drops out by itself", self.hostname, exc_info=True
                )


_presence: Presence | None = None


@worker_ready.connect
def _start_presence(sender: Any, **kwargs: Any) -> None:
    global _presence
    if _presence is None:
        _presence = Presence(sender)


@worker_shutdown.connect
def _stop_presence(sender: Any, **kwargs: Any) -> None:
    if _presence is not None:
        _presence.stop()
