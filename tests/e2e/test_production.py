"""The production layout: ``goat api``, ``goat listener``, ``goat jobs`` and two ``goat worker``
on PostgreSQL, an MQTT broker and Redis, each its own process, started as an operator would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from goat_adapters.memory import make_fixture
from goat_adapters.mqtt import BrokerAddress, PahoBrokerPublisher
from goat_app.auth import development_subject
from goat_core.errors import Unavailable
from goat_core.model import MatchState
from goat_core.wire import (
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_VALIDATION,
    render_fixtures,
    render_history,
)
from tests.integration.http.support import free_port
from tests.servers.mqtt import MqttServer
from tests.servers.redis import RedisServer
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

ALICE = "alice@example.com"


class Processes:
    """goat's processes in subprocesses sharing one environment; all stopped at the end."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = env
        self.directory = directory
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "goat_app.cli", *arguments],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.started.append((name, process))
        return process

    def run(self, *arguments: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "goat_app.cli", *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}:\n{(self.directory / f'{name}.log').read_text(errors='replace')[-2000:]}"
            for name, _ in self.started
        )

    def stop(self) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def layout(
    fresh_database_url: str, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[Processes, str, str]]:
    """Every production process on fresh PostgreSQL, a broker and Redis: (processes, API
    URL, broker URL)."""
    broker = MqttServer(tmp_path / "broker").start()
    api_port, jobs_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
    env.update(
        {
            "GOAT_DATA_DIR": str(tmp_path / "data"),
            "GOAT_DATABASE_URL": fresh_database_url,
            "GOAT_MQTT_URL": broker.url,
            "GOAT_REDIS_URL": redis_server.url,
            "GOAT_JOBS_URL": f"http://127.0.0.1:{jobs_port}",
            "GOAT_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        }
    )
    processes = Processes(env, tmp_path)
    try:
        processes.run("db", "upgrade")
        processes.start("api", "api", "--port", str(api_port))
        processes.start("listener", "listener")
        processes.start("jobs", "jobs", "--port", str(jobs_port))
        processes.start("worker-1", "worker")
        processes.start("worker-2", "worker")
        url = f"http://127.0.0.1:{api_port}"

        def answers() -> bool:
            try:
                heartbeat = httpx.get(f"{url}/workers/heartbeat", timeout=2).json()
            except (httpx.TransportError, ValueError):
                return False
            return bool(heartbeat == {"available": True})

        wait_until(answers, timeout=60, what=f"the API and the jobs service:\n{processes.logs()}")
        yield processes, url, broker.url
    finally:
        processes.stop()
        broker.stop()


def _sent(publisher: PahoBrokerPublisher, topic: str, payload: str) -> bool:
    """Publish once connected: False (to be tried again) while the publisher connects."""
    try:
        publisher.publish(topic, payload)
    except Unavailable:
        return False
    return True


def test_a_purchase_settled_through_the_broker_ends_in_recommendations_made_by_workers(
    layout: tuple[Processes, str, str],
) -> None:
    """Fixtures come from the broker, Alice buys by wallet, the course accepts and settles
    it; the job outbox carries the jobs to Redis and a worker stores her recommendations."""
    processes, url, broker_url = layout
    publisher = PahoBrokerPublisher(
        BrokerAddress.from_url(broker_url), f"course-{uuid.uuid4().hex[:8]}"
    ).start()
    try:
        soon = datetime.now(UTC) + timedelta(hours=1)
        later = datetime.now(UTC) + timedelta(days=7)
        fixtures = [
            make_fixture(1, kickoff=soon),
            make_fixture(2, home="Everton", away="Arsenal", kickoff=later),
        ]
        wait_until(lambda: _sent(publisher, TOPIC_INFO, render_fixtures(fixtures)), timeout=10)
        wait_until(
            lambda: httpx.get(f"{url}/fixtures/2", timeout=5).status_code == 200,
            timeout=30,
            what=f"the fixtures:\n{processes.logs()}",
        )
        token = processes.run("token", ALICE).strip()
        headers = {"Authorization": f"Bearer {token}"}
        assert (
            httpx.put(f"{url}/users/wallet", json={"amount": 5000}, headers=headers).status_code
            == 200
        )
        answer = httpx.post(
            f"{url}/requests",
            json={"fixture_id": 1, "result": "home", "quantity": 2, "wallet": True},
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        request_id = answer.json()["request"]["request_id"]

        verdict = {"request_id": request_id, "group_id": "15", "seller": 0, "valid": True}
        publisher.publish(TOPIC_VALIDATION, json.dumps(verdict))
        publisher.publish(TOPIC_HISTORY, render_history([MatchState(1, "FT", None, 90, 2, 0)]))

        def recommended() -> bool:
            body = httpx.get(f"{url}/recommendations", headers=headers, timeout=5).json()
            items = body.get("recommendations", [])
            return [item["fixture"]["id"] for item in items] == [2]

        wait_until(recommended, timeout=60, what=f"recommendations:\n{processes.logs()}")
        purchase = httpx.get(f"{url}/requests/{request_id}", headers=headers, timeout=5).json()
        assert purchase["status"] == "won"
        ready = httpx.get(f"{url}/ready", timeout=5).json()
        assert ready["dependencies"]["jobs"].startswith("up (rq on Redis redis://")
        assert "jobs service http://127.0.0.1:" in ready["dependencies"]["jobs"]
        assert development_subject(ALICE)  # the token's user is Alice
    finally:
        publisher.close()
