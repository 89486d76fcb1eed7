"""The broker side of goat: the MQTT listener and the outbox relay, as a process or in threads.

``run_listener`` is ``goat listener``: it applies every broker message exactly once and
sends the outbox, until SIGTERM/SIGINT. ``start_in_background`` is what ``goat serve``
runs beside the HTTP API; without ``GOAT_MQTT_URL`` it first starts the embedded broker
and the course simulator. Both expose ``BrokerCounters`` for logs and ``/ready``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid

import attrs

from goat_adapters.mqtt import (
    BrokerAddress,
    BrokerCounters,
    OutboxRelay,
    PahoBrokerPublisher,
    PahoListener,
    log_counters_periodically,
)
from goat_adapters.mqtt.embedded import EmbeddedBroker
from goat_app.settings import Settings
from goat_app.simulator import SimulatorConfig, SimulatorHandle, start_simulator
from goat_core.services import Exchange

__all__ = ["BrokerCounters", "BrokerHandle", "run_listener", "start_in_background"]

log = logging.getLogger("goat.listener")

EMBEDDED_PORT = 1883
EXPIRY_EVERY_SECONDS = 30.0


def listener_client_id(settings: Settings) -> str:
    """The stable MQTT client id that keeps the listener's persistent session."""
    return settings.mqtt_client_id or f"goat-{settings.group_id}-listener"


@attrs.define
class BrokerHandle:
    """The broker side running in threads; ``stop()`` ends all of it."""

    counters: BrokerCounters
    listener: PahoListener
    publisher: PahoBrokerPublisher
    relay: OutboxRelay
    broker_url: str
    embedded: EmbeddedBroker | None = None
    simulator: SimulatorHandle | None = None
    _stop_logging: threading.Event = attrs.field(factory=threading.Event)

    def wake(self) -> None:
        """Send the outbox now (call after a purchase to skip the relay's short wait)."""
        self.relay.wake()

    def state(self) -> str:
        """One word for ``/ready``: ``connected`` or ``disconnected``."""
        snapshot = self.counters.snapshot()
        both = snapshot["listener_connected"] and snapshot["publisher_connected"]
        return "connected" if both else "disconnected"

    def stop(self) -> None:
        """Stop the simulator, the listener, the relay and the embedded broker, in that order."""
        if self._stop_logging.is_set():
            return
        self._stop_logging.set()
        if self.simulator is not None:
            self.simulator.stop()
        self.listener.stop()
        self.relay.stop()
        self.publisher.close()
        if self.embedded is not None:
            self.embedded.stop()
        log.info("broker side stopped: %s", self.counters.snapshot())


def start_broker_side(
    address: BrokerAddress,
    client_id: str,
    exchange: Exchange,
    *,
    batch: int = 100,
    relay_interval: float = 0.2,
    log_every: float = 60.0,
) -> BrokerHandle:
    """Start the listener, the publisher and the outbox relay against ``address``."""
    counters = BrokerCounters()
    publisher = PahoBrokerPublisher(
        address, f"{client_id}-publisher-{uuid.uuid4().hex[:8]}", counters=counters
    ).start()

    def backlog() -> int:
        with exchange.uow() as uow:
            return uow.outbox.backlog()

    next_expiry = 0.0

    def relay_step() -> int:
        # unpaid Webpay purchases are let go here too: their cancellations are announced
        # by this very relay, and once in a while is enough
        nonlocal next_expiry
        if time.monotonic() >= next_expiry:
            next_expiry = time.monotonic() + EXPIRY_EVERY_SECONDS
            exchange.expire_payments()
        return exchange.relay_outbox(publisher, batch)

    relay = OutboxRelay(
        relay_step,
        backlog,
        interval=relay_interval,
        counters=counters,
    ).start()
    listener = PahoListener(
        address,
        client_id,
        exchange.receive_many,
        batch=batch,
        counters=counters,
        on_poison=exchange.keep_dead_letter,
    ).start()
    handle = BrokerHandle(counters, listener, publisher, relay, address.url)
    threading.Thread(
        target=log_counters_periodically,
        args=(counters, handle._stop_logging, log_every),
        name="goat-broker-counters",
        daemon=True,
    ).start()
    log.info("listening to %s as %s", address.url, client_id)
    return handle


def start_in_background(
    settings: Settings,
    exchange: Exchange,
    *,
    embedded_port: int = EMBEDDED_PORT,
    simulator: SimulatorConfig | None = None,
) -> BrokerHandle:
    """The broker side of ``goat serve``, in threads.

    With ``GOAT_MQTT_URL`` unset, an embedded broker on 127.0.0.1:``embedded_port`` and
    the course simulator come first. Raises ``Unavailable`` if that port is taken.
    """
    embedded = None
    if settings.mqtt_url is None:
        embedded = EmbeddedBroker("127.0.0.1", embedded_port).start()
        url = embedded.url
    else:
        url = settings.mqtt_url
    try:
        handle = start_broker_side(
            BrokerAddress.from_url(url), listener_client_id(settings), exchange
        )
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    handle.embedded = embedded
    if embedded is not None:
        # the simulator's first fixtures/info must find the listener subscribed
        if not handle.listener.wait_subscribed(10.0):
            log.warning("the listener is not subscribed yet; the simulator starts anyway")
        try:
            handle.simulator = start_simulator(url, settings.group_id, config=simulator)
        except BaseException:
            handle.stop()
            raise
    return handle


def run_listener(settings: Settings, exchange: Exchange | None = None) -> None:
    """``goat listener``: apply broker messages and send the outbox until SIGTERM/SIGINT.

    Needs ``GOAT_MQTT_URL``; without it, it listens to the embedded broker's address
    (127.0.0.1:1883), e.g. one that a ``goat serve`` on this machine runs.
    """
    system = None
    if exchange is None:
        from goat_app.compose import build_system

        system = build_system(settings)
        exchange = system.exchange
    url = settings.mqtt_url or f"mqtt://127.0.0.1:{EMBEDDED_PORT}"
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    handle = start_broker_side(BrokerAddress.from_url(url), listener_client_id(settings), exchange)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("stopping the listener")
        handle.stop()
        if system is not None:
            system.close()
