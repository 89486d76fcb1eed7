"""What the broker tests share: a peer that publishes, a recorder that listens, waiting."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from goat_adapters.mqtt import BrokerAddress, PahoBrokerPublisher

DATA = Path(__file__).resolve().parents[2] / "unit" / "data"


def sample(name: str) -> str:
    """A broker sample (the copies of the shared samples kept with the unit tests)."""
    return (DATA / name).read_text()


def sample_items(name: str) -> list[str]:
    """Each element of a sample holding a JSON list, as its own message."""
    return [json.dumps(item) for item in json.loads(sample(name))]


def wait_until(condition: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class Peer:
    """Another group on the broker: publishes with QoS 1 and waits for each PUBACK."""

    def __init__(self, url: str) -> None:
        self.publisher = PahoBrokerPublisher(
            BrokerAddress.from_url(url), f"test-peer-{uuid.uuid4().hex[:8]}"
        ).start()
        assert self.publisher.wait_connected(10)

    def send(self, topic: str, payload: str | dict[str, Any], times: int = 1) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        for _ in range(times):
            self.publisher.publish(topic, text)

    def close(self) -> None:
        self.publisher.close()


class Recorder:
    """A subscriber with a persistent session that records what it hears, in order."""

    def __init__(self, url: str, topics: tuple[str, ...]) -> None:
        address = BrokerAddress.from_url(url)
        self.messages: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-recorder-{uuid.uuid4().hex[:8]}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._topics = topics
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect_async(address.host, address.port, keepalive=10)
        self.client.loop_start()
        assert self._subscribed.wait(10)

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(t, 1) for t in self._topics])

    def _on_subscribe(self, *_: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload).decode()))

    def payloads(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(p) for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def create_session(url: str, client_id: str, topics: tuple[str, ...]) -> None:
    """Open a persistent session with subscriptions under ``client_id``, as a listener
    that ran before would have left it: the broker queues for it from now on."""
    address = BrokerAddress.from_url(url)
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(address.host, address.port)
    client.loop_start()
    assert subscribed.wait(10)
    client.disconnect()
    client.loop_stop()
