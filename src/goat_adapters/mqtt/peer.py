"""``PahoPeer``: a plain participant of the broker, for the course simulator."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt

from goat_adapters.mqtt.client import (
    BrokerAddress,
    connect_in_background,
    failed,
    new_client,
)

__all__ = ["PahoPeer"]

log = logging.getLogger("goat.mqtt")


class PahoPeer:
    """A plain participant of the broker: publishes at QoS 1 without waiting for the
    acknowledgement, and hands what it hears on ``topics`` to ``on_message(topic, payload)``.
    The course simulator talks through it.

    What is published while not connected waits here (at most ``keep`` messages, oldest
    dropped first) and goes out once connected: handing it to paho before its CONNECT is
    on the wire could put a PUBLISH first, which a broker answers by hanging up.
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        *,
        topics: Sequence[str] = (),
        on_message: Callable[[str, bytes], None] | None = None,
        keep: int = 10_000,
    ) -> None:
        self.address = address
        self.topics = tuple(topics)
        self.on_message = on_message
        self._client = new_client(address, client_id, clean_session=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._lock = threading.Lock()
        self._connected = False
        self._waiting: collections.deque[tuple[str, str]] = collections.deque(maxlen=keep)
        self._started = False

    def start(self) -> PahoPeer:
        """Connect in the background (idempotent)."""
        if not self._started:
            self._started = True
            connect_in_background(self._client, self.address)
        return self

    def publish(self, topic: str, payload: str) -> None:
        """Send a QoS 1 message now, or once connected."""
        with self._lock:
            if not self._connected:
                self._waiting.append((topic, payload))
                return
            self._client.publish(topic, payload.encode(), qos=1)

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        if self._started:
            self._started = False
            self._client.disconnect()
            self._client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if failed(reason_code):
            log.warning("peer: broker %s refused: %s", self.address.url, reason_code)
            return
        if self.topics:
            client.subscribe([(topic, 1) for topic in self.topics])
        with self._lock:  # held while flushing, so that what waited goes out first
            self._connected = True
            while self._waiting:
                topic, payload = self._waiting.popleft()
                client.publish(topic, payload.encode(), qos=1)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        with self._lock:
            self._connected = False

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.on_message is not None:
            self.on_message(message.topic, bytes(message.payload))
