"""Scale-out: two ``goat api`` and two ``goat listener`` processes on one PostgreSQL and one
MQTT broker, each started as an operator would."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from goat_adapters.memory import make_fixture
from goat_adapters.mqtt import BrokerAddress, PahoBrokerPublisher
from goat_core.wire import TOPIC_INFO, TOPIC_REQUESTS, render_fixtures
from tests.e2e.test_production import Processes, _sent
from tests.integration.http.support import free_port
from tests.integration.mqtt.support import Recorder
from tests.servers.mqtt import MqttServer
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

PURCHASES = 30


@pytest.fixture
def scaled_out(
    fresh_database_url: str, tmp_path: Path
) -> Iterator[tuple[Processes, list[str], str]]:
    """Two APIs and two listeners on fresh PostgreSQL and a broker: (processes, API URLs,
    broker URL)."""
    broker = MqttServer(tmp_path / "broker").start()
    ports = [free_port(), free_port()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
    env.update(
        {
            "GOAT_DATA_DIR": str(tmp_path / "data"),
            "GOAT_DATABASE_URL": fresh_database_url,
            "GOAT_MQTT_URL": broker.url,
        }
    )
    processes = Processes(env, tmp_path)
    try:
        processes.run("db", "upgrade")
        for n, port in enumerate(ports, start=1):
            processes.start(f"api-{n}", "api", "--port", str(port))
            processes.start(f"listener-{n}", "listener")
        urls = [f"http://127.0.0.1:{port}" for port in ports]

        def answer() -> bool:
            try:
                return all(httpx.get(f"{u}/health", timeout=2).status_code == 200 for u in urls)
            except httpx.TransportError:
                return False

        wait_until(answer, timeout=60, what=f"both APIs:\n{processes.logs()}")
        yield processes, urls, broker.url
    finally:
        processes.stop()
        broker.stop()


def test_two_apis_and_two_listeners_publish_each_purchase_exactly_once(
    scaled_out: tuple[Processes, list[str], str],
) -> None:
    """30 wallet purchases through two APIs, with two listeners on one database, each reach
    the broker's fixtures/requests exactly once."""
    processes, urls, broker_url = scaled_out
    recorder = Recorder(broker_url, (TOPIC_REQUESTS,))
    publisher = PahoBrokerPublisher(
        BrokerAddress.from_url(broker_url), f"course-{uuid.uuid4().hex[:8]}"
    ).start()
    try:
        soon = datetime.now(UTC) + timedelta(hours=1)
        fixtures = [make_fixture(1, kickoff=soon), make_fixture(2, kickoff=soon)]
        wait_until(lambda: _sent(publisher, TOPIC_INFO, render_fixtures(fixtures)), timeout=10)
        wait_until(
            lambda: all(httpx.get(f"{u}/fixtures/2", timeout=5).status_code == 200 for u in urls),
            timeout=30,
            what=f"the fixtures:\n{processes.logs()}",
        )
        token = processes.run("token", "buyer@example.com").strip()
        headers = {"Authorization": f"Bearer {token}"}
        topped = httpx.put(
            f"{urls[0]}/users/wallet", json={"amount": 1_000_000}, headers=headers, timeout=10
        )
        assert topped.status_code == 200, topped.text
        ours: list[str] = []
        for n in range(PURCHASES):
            answer = httpx.post(
                f"{urls[n % 2]}/requests",
                json={"fixture_id": 1 + n % 2, "result": "home", "quantity": 1, "wallet": True},
                headers=headers,
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            ours.append(answer.json()["request"]["request_id"])

        def published() -> Counter[str]:
            heard = (str(m.get("request_id")) for m in recorder.payloads(TOPIC_REQUESTS))
            return Counter(request_id for request_id in heard if request_id in ours)

        wait_until(
            lambda: len(published()) == PURCHASES,
            timeout=30,
            what=f"every purchase published:\n{processes.logs()}",
        )
        time.sleep(1.0)  # a second publisher, if any, would add its copies meanwhile
        counts = published()
        assert sorted(counts) == sorted(ours)
        assert max(counts.values()) == 1, f"published more than once: {counts.most_common(3)}"
    finally:
        publisher.close()
        recorder.close()
