"""Celery's Redis transport keeps one redis-py client per channel, on the
broker the suite runs (Redis, through the configured URL)."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Consumer, Exchange, Queue

from portal import broker
from portal.celery import app


@pytest.fixture
def connection():
    with app.connection_for_write() as connection:
        yield connection


def test_celery_s_broker_connections_use_the_transport(connection):
    assert isinstance(connection.transport, broker.Transport)
    # Whatever the URL's form (redis://, redis+socket://).
    assert isinstance(Connection(app.conf.broker_url).transport, broker.Transport)


def test_messages_go_through_one_client_per_channel_and_arrive(connection, monkeypatch):
    built = []
    create = broker.Channel._create_client

    def counted(self, asynchronous=False):
        client = create(self, asynchronous=asynchronous)
        if not asynchronous:
            built.append(client)
        return client

    monkeypatch.setattr(broker.Channel, "_create_client", counted)
    queue = Queue(f"test-broker-{uuid.uuid4().hex}", Exchange(f"test-broker-{uuid.uuid4().hex}"), "key")
    channel = connection.channel()
    try:
        producer = connection.Producer(channel)
        for number in range(20):
            producer.publish({"n": number}, exchange=queue.exchange, routing_key="key", declare=[queue])
        received = []

        def take(body, message):
            received.append(body)
            message.ack()

        with Consumer(channel, queues=[queue], callbacks=[take]):
            while len(received) < 20:
                connection.drain_events(timeout=10)
        assert [body["n"] for body in received] == list(range(20))
        # kombu's channel built one per command: 20 publishes, declarations, binding lookups.
        assert len(built) == 1
    finally:
        queue(channel).delete()
        channel.close()


def test_a_new_pool_gets_a_new_client(connection):
    channel = connection.channel()
    try:
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as again:
            assert first is again and first.connection_pool is channel.pool
        channel._disconnect_pools()  # as after a fork: the next command opens a new pool
        with channel.conn_or_acquire() as after:
            assert after is not first and after.connection_pool is channel.pool
            assert after.ping()
        given = object()
        with channel.conn_or_acquire(given) as client:
            assert client is given
    finally:
        channel.close()
