"""Fixtures for the broker tests: a real broker per test and an exchange on a real database.

The broker is mosquitto on a free port (amqtt in-process where mosquitto is absent, or
with ``GOAT_TEST_BROKER=amqtt``). The database is a fresh PostgreSQL database per test
when PostgreSQL is installed, else a SQLite file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    ManualClock,
    SequentialIds,
)
from goat_adapters.mqtt import BrokerAddress
from goat_adapters.sql import SqlDatabase
from goat_app.broker import BrokerSide
from goat_app.compose import start_broker_side
from goat_core.model import Rules
from goat_core.services import Exchange
from tests.integration.mqtt.support import Peer
from tests.servers.mqtt import MqttServer
from tests.servers.postgres import find_binaries

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MqttServer]:
    """A broker of our own for this test only."""
    server = MqttServer(tmp_path / "broker").start()
    yield server
    server.stop()


@pytest.fixture
def persistent_broker(broker: MqttServer) -> MqttServer:
    """The broker, for tests that need sessions kept while a client is away (mosquitto)."""
    if not broker.persistent:
        pytest.skip("amqtt keeps no messages for an anonymous client while it is away")
    return broker


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of this test's own: PostgreSQL, or SQLite where it is absent.

    ``GOAT_TEST_DATABASE=sqlite`` asks for SQLite even where PostgreSQL is installed.
    """
    if find_binaries() is None or os.environ.get("GOAT_TEST_DATABASE") == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("fresh_database_url"))


@pytest.fixture
def database(database_url: str) -> Iterator[SqlDatabase]:
    db = SqlDatabase(database_url, lock_timeout_ms=2000)
    yield db
    db.dispose()


@pytest.fixture
def jobs() -> InMemoryJobQueue:
    return InMemoryJobQueue()


@pytest.fixture
def exchange(database: SqlDatabase, jobs: InMemoryJobQueue) -> Exchange:
    """Our group ("15") on the real database, before the sample fixtures kick off."""
    return Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=jobs,
        clock=ManualClock(),
        ids=SequentialIds(),
        rules=Rules(group_id="15"),
    )


@pytest.fixture
def client_id() -> str:
    """A listener client id of this test's own, stable across its restarts."""
    return f"goat-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def start_listener(
    broker: MqttServer, exchange: Exchange, client_id: str
) -> Iterator[Callable[..., BrokerSide]]:
    """Start the listener and the outbox relay (again, after a stop) against the broker."""
    handles: list[BrokerSide] = []

    def start(**options: object) -> BrokerSide:
        handle = start_broker_side(
            BrokerAddress.from_url(broker.url),
            client_id,
            exchange,
            **options,  # type: ignore[arg-type]
        )
        handles.append(handle)
        assert handle.listener.wait_subscribed(10)
        assert handle.publisher.wait_connected(10)
        return handle

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def peer(broker: MqttServer) -> Iterator[Peer]:
    """Another group connected to the broker."""
    client = Peer(broker.url)
    yield client
    client.close()
