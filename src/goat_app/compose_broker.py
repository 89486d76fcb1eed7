"""The broker side of ``compose``'s system: the listener, the publisher, the outbox relay
and payment expiry, and for ``goat serve`` an embedded broker with the course simulator.

``goat_app.compose`` re-exports what is public here; ``start_broker_side`` is also how
tests and benchmarks run the broker side over an exchange of their own.
"""

from __future__ import annotations

import logging
import threading
import uuid

import attrs

from goat_adapters.mqtt import BrokerAddress, PahoBrokerPublisher, PahoListener, PahoPeer
from goat_adapters.mqtt.embedded import EmbeddedBroker
from goat_app.broker import BrokerCounters, BrokerSide, log_counters_periodically
from goat_app.relay import OutboxRelay, Periodic
from goat_app.settings import Settings
from goat_app.simulator import HEARD, SimulatorConfig, SimulatorHandle, run_in_background
from goat_core.ports import OutboxLease
from goat_core.services import Exchange

__all__ = [
    "EMBEDDED_PORT",
    "EXPIRE_EVERY_SECONDS",
    "BrokerOptions",
    "broker_side",
    "mqtt_identity",
    "start_broker_side",
    "start_simulator",
]

log = logging.getLogger("goat.compose")

EMBEDDED_PORT = 1883
EXPIRE_EVERY_SECONDS = 30.0
"""How often the broker side cancels Webpay purchases left unpaid."""


@attrs.frozen
class BrokerOptions:
    """Run the broker side in this process: the listener, the outbox relay, payment expiry.

    With ``GOAT_MQTT_URL`` unset and an ``embedded_port``, an embedded broker is started on
    127.0.0.1:``embedded_port`` with the course simulator (``goat serve``); with
    ``embedded_port=None`` nothing is embedded, and the listener connects to the local
    default broker address (``goat listener``).
    """

    embedded_port: int | None = EMBEDDED_PORT
    simulator: SimulatorConfig | None = None
    batch: int = 100
    relay_interval: float = 0.2
    expire_every: float = EXPIRE_EVERY_SECONDS
    log_every: float = 60.0


def mqtt_identity(settings: Settings, role: str) -> tuple[str, bool]:
    """The listener's MQTT client id and whether its session is persistent.

    ``GOAT_MQTT_CLIENT_ID`` is a stable id with a persistent session (what is published
    while the process is away waits for it), which only one process may use at a time.
    Unset, each process makes up its own (``goat-15-listener-1a2b3c4d``) with a clean
    session, so that processes side by side never take each other's connection over.
    """
    if settings.mqtt_client_id:
        return settings.mqtt_client_id, True
    return f"goat-{settings.group_id}-{role}-{uuid.uuid4().hex[:8]}", False


def start_broker_side(
    address: BrokerAddress,
    client_id: str,
    exchange: Exchange,
    *,
    batch: int = 100,
    relay_interval: float = 0.2,
    expire_every: float = EXPIRE_EVERY_SECONDS,
    log_every: float = 60.0,
    persistent: bool = True,
    lease: OutboxLease | None = None,
    standby_interval: float = 3.0,
    share_group: str | None = None,
) -> BrokerSide:
    """Start the listener, the publisher, the outbox relay and payment expiry for ``exchange``.

    ``build_system`` calls it for ``BrokerOptions``; tests and benchmarks call it to run
    the broker side over an exchange of their own. ``persistent`` keeps the listener's
    session under ``client_id`` (see ``mqtt_identity``). With a ``lease`` the relay
    publishes only while it holds it, and otherwise stands by, asking again every
    ``standby_interval`` seconds (``OutboxRelay``). With a ``share_group`` the listener
    uses MQTT shared subscriptions (``PahoListener``).
    """
    counters = BrokerCounters()
    publisher = PahoBrokerPublisher(
        address,
        f"{client_id}-publisher-{uuid.uuid4().hex[:8]}",
        on_published=counters.count_published,
        on_connected=counters.set_publisher_connected,
    ).start()
    relay = OutboxRelay(
        lambda: exchange.relay_outbox(publisher, batch),
        exchange.outbox_backlog,
        interval=relay_interval,
        on_backlog=counters.set_backlog,
        lease=lease,
        standby_interval=standby_interval,
    ).start()
    # its cancellations are announced by the relay, like any message of the outbox
    expiry = Periodic(exchange.expire_payments, every=expire_every, name="payment-expiry").start()
    listener = PahoListener(
        address,
        client_id,
        counters.counted(exchange.receive_many),
        batch=batch,
        on_poison=counters.dead_lettered(exchange.keep_dead_letter),
        on_count=counters.count,
        on_connected=counters.set_listener_connected,
        persistent=persistent,
        share_group=share_group,
    ).start()
    side = BrokerSide(counters, listener, publisher, relay, expiry, address.url)
    threading.Thread(
        target=log_counters_periodically,
        args=(counters, side.stopped, log_every),
        name="goat-broker-counters",
        daemon=True,
    ).start()
    log.info(
        "connecting to %s as %s (%s session)",
        address.url,
        client_id,
        "persistent" if persistent else "clean",
    )
    return side


def start_simulator(
    broker_url: str, group_id: str, *, config: SimulatorConfig | None = None
) -> SimulatorHandle:
    """The course simulator on ``broker_url`` (``goat simulate``, ``goat serve``)."""
    address = BrokerAddress.from_url(broker_url)
    link = PahoPeer(address, f"goat-simulator-{uuid.uuid4().hex[:8]}", topics=HEARD)
    return run_in_background(link, group_id, config=config, where=address.url)


def broker_side(
    settings: Settings, exchange: Exchange, options: BrokerOptions, lease: OutboxLease | None
) -> BrokerSide:
    """The broker side of ``build_system``: embedded broker and simulator first, if asked."""
    embedded = None
    if settings.mqtt_url is not None:
        url = settings.mqtt_url
    elif options.embedded_port is not None:
        embedded = EmbeddedBroker("127.0.0.1", options.embedded_port).start()
        url = embedded.url
    else:
        url = f"mqtt://127.0.0.1:{EMBEDDED_PORT}"
    client_id, persistent = mqtt_identity(
        settings, "serve" if options.embedded_port is not None else "listener"
    )
    try:
        side = start_broker_side(
            BrokerAddress.from_url(url),
            client_id,
            exchange,
            batch=options.batch,
            relay_interval=options.relay_interval,
            expire_every=options.expire_every,
            log_every=options.log_every,
            persistent=persistent,
            lease=lease,
            share_group=settings.mqtt_share_group,
        )
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    log.info("broker side running on %s", url)
    if embedded is None:
        return side
    side = attrs.evolve(side, embedded=embedded)
    # the simulator's first fixtures/info must find the listener subscribed
    if not side.listener.wait_subscribed(10.0):
        log.warning("the listener is not subscribed yet; the simulator starts anyway")
    try:
        simulator = start_simulator(url, settings.group_id, config=options.simulator)
    except BaseException:
        side.stop()
        raise
    return attrs.evolve(side, simulator=simulator)
