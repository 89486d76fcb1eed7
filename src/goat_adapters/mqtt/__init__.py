"""The course broker over paho-mqtt 2 (MQTT 3.1.1): a publisher, a listener and a peer.

``PahoBrokerPublisher`` is the ``BrokerPublisher`` port: QoS 1, and ``publish_many``
returns only once the broker sent a PUBACK for every message of the batch (all sent
without waiting for one before the next). ``PahoListener`` subscribes to the fixtures
topics with QoS 1 under a persistent session and acknowledges each message only after the
handler (``Exchange.receive_many``) returned, that is after its effect is committed: a
crash between delivery and commit means the broker delivers the message again, and the
inbox makes the second delivery change nothing. Exactly-once effects are the product of
the two. ``PahoPeer`` is a plain participant (fire-and-forget publishing, one callback for
what it hears), for the course simulator.

Neither counts nor schedules anything itself: they report what happens through small
callbacks (``on_count``, ``on_connected``, ``on_published``), and the app decides what to
do with it (the counters live in ``goat_app.broker``, the relay loop in ``goat_app.relay``).
No paho error escapes: the publisher raises ``goat_core.errors.Unavailable``. The broker's
address and the making of a client are in ``client.py``, the peer in ``peer.py``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from goat_adapters.mqtt.client import (
    BrokerAddress,
    connect_in_background,
    failed,
    new_client,
)
from goat_adapters.mqtt.peer import PahoPeer
from goat_adapters.mqtt.watch import ConnectionWatch
from goat_core.errors import Busy, NotAllPublished, Unavailable
from goat_core.wire import TOPICS

__all__ = [
    "BrokerAddress",
    "Delivery",
    "PahoBrokerPublisher",
    "PahoListener",
    "PahoPeer",
]

log = logging.getLogger("goat.mqtt")

Delivery = tuple[str, bytes]
"""A message as the listener hands it over: topic and payload."""

Handler = Callable[[Sequence[Delivery]], Sequence[str]]
"""Applies messages and answers one outcome each (``Exchange.receive_many``)."""

OnCount = Callable[[str, int], None]
"""Told what the listener did: ``("received", n)``, ``("retries", 1)``, or one outcome of the
handler (``"applied"``, ``"duplicate"``, ``"ignored"``, ``"malformed"``) with 1."""

OnConnected = Callable[[bool], None]
"""Told when a client's connection (for the listener: its subscription) comes or goes."""


def _ignore_count(what: str, amount: int) -> None:
    """The default ``OnCount``: nobody is counting."""


def _ignore_connected(up: bool) -> None:
    """The default ``OnConnected``: nobody is watching."""


RETRYABLE = (Unavailable, Busy)
"""Errors after which the same message is simply tried again later."""

POISON_ATTEMPTS = 5
"""Tries of a message that fails with an unexpected error before it is set aside."""


def _watchable(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether paho can tell when the broker acknowledges this message: it went out (or is
    going out) on a connection. One handed to paho while the connection was down is kept
    and sent after reconnecting, but paho's ``is_published`` raises for it ever after."""
    return info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN)


class PahoBrokerPublisher:
    """``BrokerPublisher`` over paho: QoS 1, returns once the broker acknowledged.

    It connects in the background and reconnects by itself; while it is not connected
    ``publish`` raises ``Unavailable`` at once, so the outbox keeps the message.
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        *,
        timeout: float = 5.0,
        on_published: Callable[[], None] | None = None,
        on_connected: OnConnected | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self._on_published = on_published
        self._on_connected = on_connected or _ignore_connected
        # a clean session: what is not acknowledged stays in the outbox (paho also keeps
        # it, and sends it again after reconnecting: see ``_left``)
        self._client = new_client(address, client_id, clean_session=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self.watch = ConnectionWatch("publisher", address.url, client_id)
        self._client.on_connect_fail = lambda *_: self.watch.unreachable()
        self._connected = threading.Event()
        self._started = False
        self._left: list[mqtt.MQTTMessageInfo] = []
        """What a failed batch left in paho, unacknowledged (sent and not answered yet, or
        to be sent again after reconnecting). Until the broker acknowledges it, no new
        batch goes out: the relay would send the same messages again at every round, and
        a broker that stalls for a while would then read many copies of each. One caller
        at a time (the relay's thread)."""

    def start(self) -> PahoBrokerPublisher:
        """Connect in the background (idempotent)."""
        if not self._started:
            self._started = True
            connect_in_background(self._client, self.address)
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected or ``timeout`` seconds passed; say which."""
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: str) -> None:
        """``publish_many`` of one message."""
        self.publish_many([(topic, payload)])

    def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Send each with QoS 1, in order, all in flight at once; return once the broker
        acknowledged them all, else raise ``NotAllPublished`` (an ``Unavailable``)."""
        self.start()
        url = self.address.url
        if not self._connected.is_set():
            raise NotAllPublished(0, f"broker {url} is not connected")
        deadline = time.monotonic() + self.timeout
        if not self._drained(deadline):
            raise NotAllPublished(0, f"broker {url} has not acknowledged an earlier batch")
        sent: list[mqtt.MQTTMessageInfo] = []
        refused = ""
        for topic, payload in messages:
            try:
                sent.append(self._client.publish(topic, payload.encode(), qos=1))
            except (RuntimeError, ValueError) as error:  # not queued: a bad topic, say
                refused = f"broker {url}: {error}"
                break
        # The broker acknowledges in the order it received (MQTT 3.1.1 §4.6): waiting for
        # the last first wakes this thread once per batch, not once per acknowledgement.
        watched = [info for info in sent if _watchable(info)]
        if watched:
            watched[-1].wait_for_publish(max(0.0, deadline - time.monotonic()))
        for acknowledged, info in enumerate(sent):
            if not _watchable(info):
                reason = f"broker {url}: {mqtt.error_string(info.rc)}"
            else:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
                if info.is_published():
                    if self._on_published is not None:
                        self._on_published()
                    continue
                reason = f"broker {url} did not acknowledge in {self.timeout}s"
            self._left = [i for i in sent[acknowledged:] if _watchable(i)]
            raise NotAllPublished(acknowledged, reason)
        if refused:
            raise NotAllPublished(len(sent), refused)

    def _drained(self, deadline: float) -> bool:
        """Whether the broker acknowledged what a failed batch left in paho, waiting for it
        until ``deadline``."""
        while any(not info.is_published() for info in self._left):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        self._left = []
        return True

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        if self._started:
            self._started = False
            self._client.disconnect()
            self._client.loop_stop()
        self._connected.clear()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if failed(reason_code):
            self.watch.refused(reason_code)
            return
        self.watch.connected()
        log.info("publisher connected to %s", self.address.url)
        self._connected.set()
        self._on_connected(True)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self._connected.clear()
        self._on_connected(False)
        if self._started:
            self.watch.lost(reason_code)


@attrs.frozen
class _Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


class PahoListener:
    """Subscribes to the fixtures topics and applies every message exactly once.

    Paho's network thread only queues what arrives; one worker thread takes up to
    ``batch`` queued messages (waiting at most ``linger`` seconds after the first for
    more: a steady trickle then costs a commit per few messages, not one each), hands
    them to ``handler`` and acknowledges them after it returned. ``Unavailable`` or
    ``Busy`` from the handler means it did not finish (``Exchange.receive_many`` may
    have committed some of the messages: applied once, they come back as duplicates):
    the same messages are tried again after a pause, never acknowledged before. Any
    other error is a bug: the message that causes it is tried alone a few times, then
    handed to ``on_poison(topic, payload, reason)`` (e.g. ``Exchange.keep_dead_letter``)
    and acknowledged, so one message cannot stall all.

    With ``persistent`` (the default) the session is kept (``clean_session=False``)
    under a client id that must be stable and used by this listener alone, so what is
    published while the listener is away is delivered when it comes back. Without it the
    session is clean: right for a client id made up per process, which no later run
    would find again.

    With a ``share_group`` it subscribes to ``$share/<group>/<topic>`` (MQTT shared
    subscriptions): the broker hands each message to one listener of the group, so
    listeners split the load. The broker must offer them (mosquitto does).
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        handler: Handler,
        *,
        topics: Sequence[str] = TOPICS,
        batch: int = 100,
        linger: float = 0.002,
        on_poison: Callable[[str, str, str], None] | None = None,
        on_count: OnCount | None = None,
        on_connected: OnConnected | None = None,
        persistent: bool = True,
        share_group: str | None = None,
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.persistent = persistent
        self.handler = handler
        self.on_poison = on_poison
        self.topics = tuple(topics)
        self.share_group = share_group
        self.batch = batch
        self.linger = linger
        self._count = on_count or _ignore_count
        self._on_connected = on_connected or _ignore_connected
        self._queue: queue.Queue[_Received] = queue.Queue()
        # acknowledged only once applied, in either kind of session
        self._client = new_client(address, client_id, clean_session=not persistent, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self.watch = ConnectionWatch("listener", address.url, client_id)
        self._client.on_connect_fail = lambda *_: self.watch.unreachable()
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._connection = 0
        self._worker: threading.Thread | None = None

    def start(self) -> PahoListener:
        """Connect and start working in background threads."""
        self._stopping.clear()
        self._worker = threading.Thread(target=self._work, name="goat-listener", daemon=True)
        self._worker.start()
        connect_in_background(self._client, self.address)
        return self

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until subscribed or ``timeout`` seconds passed; say which."""
        return self._subscribed.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in hand, then disconnect; unacknowledged ones come back later."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        self._subscribed.clear()
        self._on_connected(False)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if failed(reason_code):
            self.watch.refused(reason_code)
            return
        self.watch.connected()
        self._connection += 1
        log.info(
            "listener connected to %s as %s (session present: %s)",
            self.address.url,
            self.client_id,
            getattr(flags, "session_present", None),
        )
        # subscribe on every connect: the broker may have lost the session
        client.subscribe([(self.subscription(topic), 1) for topic in self.topics])

    def subscription(self, topic: str) -> str:
        """The topic filter this listener subscribes to for ``topic`` (shared, or not)."""
        return f"$share/{self.share_group}/{topic}" if self.share_group else topic

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
    ) -> None:
        refused = [code for code in reason_codes if failed(code)]
        if refused:
            # connected but deaf: do not report ready; the next connect subscribes again
            log.error("listener: broker %s refused the subscription: %s", self.address.url, refused)
            return
        if not self._subscribed.is_set():
            shared = f" (shared in group {self.share_group})" if self.share_group else ""
            log.info("listener subscribed on %s%s: listening", self.address.url, shared)
        self._subscribed.set()
        self._on_connected(True)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self._subscribed.clear()
        self._on_connected(False)
        if not self._stopping.is_set():
            self.watch.lost(reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put(
            _Received(
                message.topic, bytes(message.payload), message.mid, message.qos, self._connection
            )
        )

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            lot = [first]
            until = time.monotonic() + self.linger
            while len(lot) < self.batch:
                try:
                    lot.append(self._queue.get(timeout=max(0.0, until - time.monotonic())))
                except queue.Empty:
                    break
            self._count("received", len(lot))
            if not self._apply(lot):
                return  # stopping: the broker delivers the unacknowledged ones again
            for item in lot:
                self._ack(item)

    def _apply(self, lot: list[_Received]) -> bool:
        """Apply the lot, retrying until it is committed; False if asked to stop first."""
        pause = 0.1
        failures = 0
        while True:
            try:
                outcomes = self.handler([(item.topic, item.payload) for item in lot])
            except RETRYABLE as error:
                log.warning("could not apply %d messages, will retry: %s", len(lot), error)
            except Exception as error:
                # a bug, not an outage: find the message that trips it, and after a few
                # tries keep it as a dead letter rather than stall every message behind it
                log.exception("could not apply %d messages", len(lot))
                failures += 1
                if len(lot) > 1:
                    return all(self._apply([item]) for item in lot)
                if failures >= POISON_ATTEMPTS and self._set_aside(lot[0], error):
                    return True
            else:
                for outcome in outcomes:
                    self._count(str(outcome), 1)
                return True
            self._count("retries", 1)
            if self._stopping.wait(pause):
                return False
            pause = min(pause * 2, 5.0)

    def _set_aside(self, item: _Received, error: Exception) -> bool:
        if self.on_poison is None:
            return False
        try:
            self.on_poison(item.topic, item.payload.decode("utf-8", "replace"), repr(error))
        except Exception:
            log.exception("could not keep the message that failed as a dead letter")
            return False
        self._count("malformed", 1)
        return True

    def _ack(self, item: _Received) -> None:
        if item.qos == 0:
            return
        if item.connection != self._connection:
            # the broker delivers it again on the new connection; the inbox dedups it
            return
        result = self._client.ack(item.mid, item.qos)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("ack of %d not sent: %s", item.mid, result)
