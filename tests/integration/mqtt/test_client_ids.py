"""Client ids on a real broker: processes side by side keep their connections, and a
connection that is not up says why."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from goat_adapters.mqtt import BrokerAddress, PahoListener
from goat_adapters.sql import SqlDatabase
from goat_app.compose import BrokerOptions, build_system
from goat_app.settings import Settings
from goat_core.wire import TOPIC_INFO, TOPIC_REQUESTS, parse_fixtures
from tests.integration.mqtt.support import Peer, sample, wait_until
from tests.servers.mqtt import MqttServer, free_port

pytestmark = pytest.mark.integration


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def ignore(messages: object) -> list[str]:
    return []


def test_serve_and_listener_side_by_side_keep_their_connections(
    broker: MqttServer,
    database_url: str,
    database: SqlDatabase,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The broker sides of ``goat serve`` and ``goat listener`` with default ids never take
    each other's connection over, and what a peer sends is applied."""
    caplog.set_level(logging.INFO)
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, mqtt_url=broker.url)
    serve = build_system(settings, broker=BrokerOptions())
    listener = build_system(settings, broker=BrokerOptions(embedded_port=None))
    peer = Peer(broker.url)
    try:
        assert serve.broker is not None
        assert listener.broker is not None
        ids = [serve.broker.listener.client_id, listener.broker.listener.client_id]
        assert ids[0].startswith("goat-15-serve-")
        assert ids[1].startswith("goat-15-listener-")
        for side in (serve.broker, listener.broker):
            assert side.listener.wait_subscribed(10)
            assert not side.listener.persistent  # a made-up id: a clean session

        fixture_id = parse_fixtures(sample("fixtures_info.json"))[0].id
        peer.send(TOPIC_INFO, sample("fixtures_info.json"))
        requests = [f"side-by-side-{n}" for n in range(5)]
        for request_id in requests:
            message = {
                "request_id": request_id,
                "group_id": "6",
                "fixture_id": fixture_id,
                "result": "home",
                "quantity": 1,
                "wallet": True,
            }
            peer.send(TOPIC_REQUESTS, json.dumps(message))

        def recorded() -> int:
            with database.unit_of_work() as uow:
                return sum(1 for r in requests if uow.purchases.get(r) is not None)

        wait_until(lambda: recorded() == len(requests), what="the peer's purchases")
        assert serve.broker.state() == listener.broker.state() == "connected"
        assert [w for w in warnings(caplog) if "lost" in w or "closed" in w] == []
    finally:
        peer.close()
        listener.close()
        serve.close()


def test_a_client_id_used_twice_is_named_as_the_cause(
    broker: MqttServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Two listeners sharing one client id knock each other off, and a warning says so."""
    caplog.set_level(logging.WARNING)
    address = BrokerAddress.from_url(broker.url)
    client_id = f"goat-test-{uuid.uuid4().hex[:8]}"
    first = PahoListener(address, client_id, ignore).start()
    second = PahoListener(address, client_id, ignore).start()
    try:
        wait_until(
            lambda: any("same client id" in w for w in warnings(caplog)),
            timeout=30,
            what="a take-over warning",
        )
        (named,) = {w for w in warnings(caplog) if "same client id" in w}
        assert client_id in named
        assert "GOAT_MQTT_CLIENT_ID" in named
    finally:
        first.stop()
        second.stop()


def test_a_listener_pointed_at_no_broker_warns(caplog: pytest.LogCaptureFixture) -> None:
    """A broker that cannot be reached is a warning naming it, not a quiet "listening"."""
    caplog.set_level(logging.INFO)
    address = BrokerAddress("127.0.0.1", free_port())
    listener = PahoListener(address, f"goat-test-{uuid.uuid4().hex[:8]}", ignore).start()
    try:
        wait_until(
            lambda: any("cannot be reached" in w for w in warnings(caplog)),
            timeout=15,
            what="an unreachable warning",
        )
        assert address.url in listener.watch.last_cause
        assert not listener.wait_subscribed(0.1)
        assert not any("listening" in r.getMessage() for r in caplog.records)
    finally:
        listener.stop()
