"""Workers announce themselves per queue in the broker: a fresh announcement
counts, one older than PRESENCE_STALE does not (a worker killed without
warning drops out), a withdrawn one is gone at once; and queue depth is the
Redis lists' length, prioritised messages included."""

from __future__ import annotations

import time

from capabilities import presence


def test_fresh_stale_and_withdrawn_workers():
    queue = f"cap.presence-{time.monotonic_ns()}"
    now = time.time()
    presence.announce("alive@host", [queue], now=now)
    presence.announce("killed@host", [queue], now=now - presence.PRESENCE_STALE - 1)
    presence.announce("stopping@host", [queue], now=now)
    presence.withdraw("stopping@host", [queue])
    assert presence.workers([queue], now=now) == {queue: ["alive@host"]}


def test_queue_depth_counts_every_priority_list():
    queue = f"cap.depth-{time.monotonic_ns()}"
    with presence.broker_client() as client:
        client.rpush(queue, "a", "b")
        client.rpush(f"{queue}\x06\x166", "c")
    try:
        assert presence.queue_lengths([queue, f"{queue}-empty"]) == {queue: 3, f"{queue}-empty": 0}
    finally:
        with presence.broker_client() as client:
            client.delete(queue, f"{queue}\x06\x166")
