"""One relay publishes the outbox among several broker sides on one PostgreSQL database."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import attrs
import pytest
import sqlalchemy as sa

from goat_adapters.local import UuidIds
from goat_adapters.memory import InMemoryJobQueue, InMemoryPaymentGateway, ManualClock
from goat_adapters.mqtt import BrokerAddress
from goat_adapters.sql import SqlDatabase, SqlOutboxLease
from goat_app.broker import BrokerSide
from goat_app.compose import start_broker_side
from goat_core.model import Outcome, Rules
from goat_core.services import BuyBonds, Exchange
from goat_core.wire import TOPIC_REQUESTS
from tests.contract.builders import NOW, fixture
from tests.integration.mqtt.support import Recorder, wait_until
from tests.servers.mqtt import MqttServer

pytestmark = pytest.mark.integration

USER = "auth0|lease"


@attrs.define
class Listener:
    """One ``goat listener`` as a process would run it: its own pool, lease and broker side."""

    database: SqlDatabase
    exchange: Exchange
    lease: SqlOutboxLease
    side: BrokerSide


@pytest.fixture
def listeners(broker: MqttServer, fresh_database_url: str) -> Iterator[list[Listener]]:
    """Two broker sides on one PostgreSQL database, each with a client id of its own."""
    started: list[Listener] = []
    for _ in range(2):
        database = SqlDatabase(fresh_database_url, lock_timeout_ms=5000)
        exchange = Exchange(
            uow=database.unit_of_work,
            payments=InMemoryPaymentGateway(),
            jobs=InMemoryJobQueue(),
            clock=ManualClock(NOW),
            ids=UuidIds(),
            rules=Rules(group_id="15"),
        )
        lease = SqlOutboxLease(database.engine)
        side = start_broker_side(
            BrokerAddress.from_url(broker.url),
            f"goat-test-{uuid.uuid4().hex[:8]}",
            exchange,
            persistent=False,
            lease=lease,
            standby_interval=0.3,
            relay_interval=0.05,
        )
        started.append(Listener(database, exchange, lease, side))
    for listener in started:
        assert listener.side.listener.wait_subscribed(10)
        assert listener.side.publisher.wait_connected(10)
    started[0].exchange.ingest_fixtures([fixture(1)])
    started[0].exchange.top_up(USER, 1_000_000)
    yield started
    for listener in started:
        listener.side.stop()
        listener.database.dispose()


def buy(exchange: Exchange, count: int, made: list[str] | None = None) -> None:
    """``count`` wallet purchases of one bond each, one after the other (ids into ``made``)."""
    for _ in range(count):
        bought = exchange.buy_bonds(
            BuyBonds(USER, 1, Outcome.HOME, 1, True, return_url="http://r.invalid")
        )
        if made is not None:
            made.append(bought.purchase.request_id)


def published_ids(recorder: Recorder) -> Counter[str]:
    return Counter(str(message["request_id"]) for message in recorder.payloads(TOPIC_REQUESTS))


def holder(listeners: list[Listener]) -> Listener:
    """The one broker side whose relay holds the lease (waiting for one to take it)."""
    wait_until(lambda: any(listener.lease.held for listener in listeners), 10, "a lease holder")
    (holding,) = [listener for listener in listeners if listener.lease.held]
    return holding


def test_two_broker_sides_publish_each_purchase_exactly_once(
    broker: MqttServer, listeners: list[Listener]
) -> None:
    """30 purchases made through both sides go out once each, in the order they were made."""
    recorder = Recorder(broker.url, (TOPIC_REQUESTS,))
    try:
        made: list[list[str]] = [[], []]
        buyers = [
            threading.Thread(target=buy, args=(listener.exchange, 15, ids))
            for listener, ids in zip(listeners, made, strict=True)
        ]
        for thread in buyers:
            thread.start()
        for thread in buyers:
            thread.join(60)
        wait_until(lambda: sum(published_ids(recorder).values()) >= 30, 30, "30 published")
        time.sleep(1.0)  # a second publisher, if any, would add its copies meanwhile

        counts = published_ids(recorder)
        assert len(counts) == 30
        assert max(counts.values()) == 1, f"published more than once: {counts.most_common(3)}"
        print(f"published {sum(counts.values())} messages for 30 purchases")
        assert sum(1 for listener in listeners if listener.lease.held) == 1
        sent = [str(message["request_id"]) for message in recorder.payloads(TOPIC_REQUESTS)]
        for ids in made:  # each buyer's purchases went out in the order it made them
            assert [request_id for request_id in sent if request_id in ids] == ids
    finally:
        recorder.close()


def test_the_holder_stopped_the_other_takes_over_and_publishes_the_rest(
    broker: MqttServer, listeners: list[Listener]
) -> None:
    """When the relay holding the lease stops, the standby publishes what is left, once each."""
    recorder = Recorder(broker.url, (TOPIC_REQUESTS,))
    try:
        first = holder(listeners)
        (standby,) = [listener for listener in listeners if listener is not first]
        buy(standby.exchange, 10)
        wait_until(lambda: sum(published_ids(recorder).values()) >= 10, 20, "10 published")

        first.side.stop()
        buy(standby.exchange, 20)

        wait_until(lambda: standby.lease.held, 10, "the standby to take over")
        wait_until(lambda: sum(published_ids(recorder).values()) >= 30, 20, "30 published")
        time.sleep(1.0)
        counts = published_ids(recorder)
        assert len(counts) == 30
        assert max(counts.values()) == 1, f"published more than once: {counts.most_common(3)}"
    finally:
        recorder.close()


def test_a_holder_whose_connection_dies_is_replaced(
    broker: MqttServer, listeners: list[Listener]
) -> None:
    """The holder's database session killed, the lock goes with it and the standby takes over."""
    recorder = Recorder(broker.url, (TOPIC_REQUESTS,))
    try:
        first = holder(listeners)
        (standby,) = [listener for listener in listeners if listener is not first]
        with standby.database.engine.connect() as connection:
            killed = connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objid = :key AND granted"
                ),
                {"key": first.lease.key & 0xFFFFFFFF},
            ).scalars()
            assert list(killed) == [True]

        wait_until(lambda: standby.lease.held, 10, "the standby to take over")
        buy(standby.exchange, 5)
        wait_until(lambda: sum(published_ids(recorder).values()) >= 5, 20, "5 published")
        time.sleep(1.0)
        assert not first.lease.held
        assert max(published_ids(recorder).values()) == 1
    finally:
        recorder.close()
