"""``goat listener`` with GOAT_LISTENER_PORT answers /health and /ready for an orchestrator."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from goat_app.listener import run_listener
from goat_app.settings import Settings
from tests.integration.mqtt.support import wait_until
from tests.servers.mqtt import MqttServer, free_port

pytestmark = pytest.mark.integration


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return int(answer.status), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())
    except OSError:
        return 0, {}


@contextlib.contextmanager
def listening(settings: Settings) -> Iterator[int]:
    """``run_listener`` in a thread until the test ends; the probe port."""
    stop = threading.Event()
    thread = threading.Thread(target=run_listener, args=(settings, stop), daemon=True)
    thread.start()
    assert settings.listener_port is not None
    wait_until(lambda: get(settings.listener_port or 0, "/health")[0] == 200, what="/health")
    try:
        yield settings.listener_port
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()


def test_ready_once_subscribed(broker: MqttServer, database_url: str, tmp_path: Path) -> None:
    """/ready is 200 with the database up, the broker connected and the relay publishing."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mqtt_url=broker.url,
        listener_port=free_port(),
    )
    with listening(settings) as port:
        wait_until(lambda: get(port, "/ready")[0] == 200, what="ready")
        # the relay takes the publishing lease on its first round, which may come later
        wait_until(
            lambda: get(port, "/ready")[1]["checks"]["outbox"] == "publishing", what="publishing"
        )
        status, body = get(port, "/ready")
        assert status == 200
        assert body["checks"]["broker"] == "connected"
        assert body["checks"]["database"].startswith("up")


def test_not_ready_while_the_broker_cannot_be_reached(database_url: str, tmp_path: Path) -> None:
    """/ready is 503 naming the broker while nothing answers at GOAT_MQTT_URL; /health is 200."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",
        listener_port=free_port(),
    )
    with listening(settings) as port:
        status, body = get(port, "/ready")
        assert status == 503
        assert body["checks"]["broker"] == "disconnected"
        assert get(port, "/health")[0] == 200
