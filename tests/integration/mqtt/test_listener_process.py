"""``run_listener`` as its own process, killed with SIGKILL mid-stream and started again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from goat_adapters.sql import SqlDatabase
from goat_adapters.sql.tables import purchases
from goat_core.services import Exchange
from goat_core.wire import TOPIC_INFO, TOPIC_REQUESTS, TOPICS, parse_fixtures
from tests.integration.mqtt.support import Peer, create_session, sample, wait_until
from tests.servers.mqtt import MqttServer

pytestmark = pytest.mark.integration

LISTENER = "from goat_app.listener import run_listener; from goat_app.settings import Settings; "
LISTENER += "run_listener(Settings.from_env())"
FIXTURES = parse_fixtures(sample("fixtures_info.json"))


class ListenerProcess:
    """``run_listener`` in a child process, configured through the environment as in production."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.environment = environment
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LISTENER],
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no goodbye to the broker, nothing acknowledged that was in hand."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)


@pytest.fixture
def listener_process(
    broker: MqttServer, database_url: str, tmp_path: Path
) -> Iterator[ListenerProcess]:
    environment = {
        **os.environ,
        "GOAT_DATABASE_URL": database_url,
        "GOAT_MQTT_URL": broker.url,
        "GOAT_MQTT_CLIENT_ID": f"goat-test-{uuid.uuid4().hex[:8]}",
        "GOAT_DATA_DIR": str(tmp_path / "data"),
    }
    process = ListenerProcess(environment, tmp_path / "listener.log")
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()


def request(request_id: str, fixture_id: int) -> str:
    return json.dumps(
        {
            "request_id": request_id,
            "group_id": "6",
            "fixture_id": fixture_id,
            "result": "home",
            "quantity": 1,
            "wallet": True,
        }
    )


def recorded(database: SqlDatabase, request_ids: list[str]) -> int:
    """How many of these requests are recorded as purchases."""
    with database.unit_of_work() as uow:
        return sum(1 for r in request_ids if uow.purchases.get(r) is not None)


def purchase_rows(database: SqlDatabase) -> int:
    """How many rows the purchases table holds, whoever made them."""
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(purchases)).scalar_one())


def bonds_left(database: SqlDatabase) -> int:
    with database.unit_of_work() as uow:
        return sum((uow.fixtures.get(f.id) or f).available_bonds or 0 for f in FIXTURES)


def test_a_killed_listener_applies_everything_once_after_a_restart(
    listener_process: ListenerProcess,
    database: SqlDatabase,
    exchange: Exchange,
    persistent_broker: MqttServer,
) -> None:
    """SIGKILL mid-stream, more sent while it is dead, restart: each purchase applied once."""
    assert purchase_rows(database) == 0
    exchange.receive(TOPIC_INFO, sample("fixtures_info.json"))
    peer = Peer(persistent_broker.url)
    ids = [f"killed-{n}" for n in range(150)]
    try:
        create_session(
            persistent_broker.url, listener_process.environment["GOAT_MQTT_CLIENT_ID"], TOPICS
        )
        listener_process.start()
        peer.send(TOPIC_INFO, sample("fixtures_info.json"))
        peer.send(TOPIC_REQUESTS, request(ids[0], FIXTURES[0].id))
        wait_until(lambda: recorded(database, ids[:1]) == 1, timeout=60, what="the listener")

        for n, request_id in enumerate(ids[1:100], start=1):
            peer.send(TOPIC_REQUESTS, request(request_id, FIXTURES[n % len(FIXTURES)].id))
        wait_until(lambda: recorded(database, ids) >= 20, what="some purchases")
        listener_process.kill()
        for n, request_id in enumerate(ids[100:], start=100):
            peer.send(TOPIC_REQUESTS, request(request_id, FIXTURES[n % len(FIXTURES)].id))

        listener_process.start()
        wait_until(lambda: recorded(database, ids) == len(ids), timeout=60, what="every purchase")
        assert listener_process.terminate() == 0
    finally:
        peer.close()
    # none missing, none twice: one row per request, and each took its bond once
    assert purchase_rows(database) == len(ids)
    assert bonds_left(database) == 40 * len(FIXTURES) - len(ids)
