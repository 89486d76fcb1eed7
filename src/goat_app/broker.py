"""The broker side of a process, running: listener, publisher, outbox relay, payment expiry.

``goat_app.compose`` builds and starts it (``start_broker_side``); this module holds what
it is made of once running: ``BrokerCounters`` (what it did, for logs and ``/ready``) and
``BrokerSide`` (the handle that wakes the relay, reports its state and stops it all).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import attrs

from goat_adapters.mqtt import PahoBrokerPublisher, PahoListener
from goat_adapters.mqtt.embedded import EmbeddedBroker
from goat_app.relay import OutboxRelay, Periodic
from goat_app.simulator import SimulatorHandle
from goat_core.ports import JobQueue
from goat_core.services import Exchange

__all__ = [
    "BrokerCounters",
    "BrokerSide",
    "backlogs",
    "log_counters_periodically",
    "report_backlogs",
]

log = logging.getLogger("goat.listener")

_OUTCOMES = {"applied": "applied", "duplicate": "duplicates", "ignored": "ignored"}


@attrs.define
class BrokerCounters:
    """What the broker side did since start, for logs and ``/ready`` (thread-safe)."""

    received: int = 0
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    malformed: int = 0
    retries: int = 0
    published: int = 0
    backlog: int = 0
    listener_connected: bool = False
    publisher_connected: bool = False
    _by_topic: dict[tuple[str, str], int] = attrs.field(factory=dict, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def counted(
        self, handler: Callable[[Sequence[tuple[str, bytes]]], Sequence[str]]
    ) -> Callable[[Sequence[tuple[str, bytes]]], Sequence[str]]:
        """``handler`` (``Exchange.receive_many``), counting each outcome by topic."""

        def apply(messages: Sequence[tuple[str, bytes]]) -> Sequence[str]:
            outcomes = handler(messages)
            with self._lock:
                for (topic, _), outcome in zip(messages, outcomes, strict=False):
                    key = (topic, str(outcome))
                    self._by_topic[key] = self._by_topic.get(key, 0) + 1
            return outcomes

        return apply

    def dead_lettered(
        self, keep: Callable[[str, str, str], None]
    ) -> Callable[[str, str, str], None]:
        """``keep`` (``Exchange.keep_dead_letter``), counting what it kept by topic."""

        def apply(topic: str, payload: str, reason: str) -> None:
            keep(topic, payload, reason)
            with self._lock:
                key = (topic, "dead_letter")
                self._by_topic[key] = self._by_topic.get(key, 0) + 1

        return apply

    def by_topic(self) -> dict[tuple[str, str], int]:
        """Messages applied since start by (topic, outcome), outcome as ``Handled`` says
        (``dead_letter`` for those set aside after failing)."""
        with self._lock:
            return dict(self._by_topic)

    def count(self, what: str, amount: int = 1) -> None:
        """Count what the listener reports (its ``on_count``): ``received``, ``retries``, or
        an outcome of ``Exchange.receive`` (anything unknown counts as malformed)."""
        name = what if what in ("received", "retries") else _OUTCOMES.get(what, "malformed")
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def count_published(self) -> None:
        """One message acknowledged by the broker (the publisher's ``on_published``)."""
        with self._lock:
            self.published += 1

    def set_backlog(self, backlog: int) -> None:
        """How many messages wait in the outbox (the relay's ``on_backlog``)."""
        with self._lock:
            self.backlog = backlog

    def set_listener_connected(self, up: bool) -> None:
        """The listener's ``on_connected``: subscribed, or not."""
        with self._lock:
            self.listener_connected = up

    def set_publisher_connected(self, up: bool) -> None:
        """The publisher's ``on_connected``."""
        with self._lock:
            self.publisher_connected = up

    def snapshot(self) -> dict[str, int | bool]:
        """A consistent copy of every counter."""
        with self._lock:
            return {
                "received": self.received,
                "applied": self.applied,
                "duplicates": self.duplicates,
                "ignored": self.ignored,
                "malformed": self.malformed,
                "retries": self.retries,
                "published": self.published,
                "backlog": self.backlog,
                "listener_connected": self.listener_connected,
                "publisher_connected": self.publisher_connected,
            }


def log_counters_periodically(
    counters: BrokerCounters, stop: threading.Event, interval: float = 60.0
) -> None:
    """Log the counters every ``interval`` seconds until ``stop`` is set (run in a thread)."""
    last: dict[str, int | bool] = {}
    while not stop.wait(interval):
        now = counters.snapshot()
        if now != last:
            log.info("broker counters %s", " ".join(f"{k}={v}" for k, v in now.items()))
            last = now


def backlogs(exchange: Exchange, jobs: JobQueue) -> dict[str, int]:
    """What waits: our messages, jobs not handed over, and jobs queued on Redis (rq)."""
    found = {
        "OutboxBacklog": exchange.outbox_backlog(),
        "JobOutboxBacklog": exchange.jobs_backlog(),
    }
    sizes = getattr(jobs, "sizes", None)  # the rq queue's; other queues keep nothing
    if sizes is not None:
        found["JobsQueued"] = sizes()["queued"]
    return found


def report_backlogs(read: Callable[[], dict[str, int]]) -> None:
    """Log the backlogs ``read`` gives (``OutboxBacklog``, ...) as one line.

    Under ``GOAT_LOG_FORMAT=json`` the line is also a CloudWatch embedded metric record
    (namespace ``Goat``): on AWS the log driver turns it into the metrics that the stack's
    alarms watch (deploy/aws/goat_alarms.py), with no agent.
    """
    values = read()
    log.info(
        "backlogs %s", " ".join(f"{k}={v}" for k, v in values.items()), extra={"metrics": values}
    )


@attrs.frozen
class BrokerSide:
    """The broker side running in threads; ``stop()`` ends all of it (once)."""

    counters: BrokerCounters
    listener: PahoListener
    publisher: PahoBrokerPublisher
    relay: OutboxRelay
    expiry: Periodic
    """Cancels Webpay purchases left unpaid (``Exchange.expire_payments``)."""
    broker_url: str
    embedded: EmbeddedBroker | None = None
    simulator: SimulatorHandle | None = None
    stopped: threading.Event = attrs.field(factory=threading.Event)
    """Set by ``stop()``; the counters' log thread ends with it."""

    def wake(self) -> None:
        """Send the outbox now (call after a purchase to skip the relay's short wait)."""
        self.relay.wake()

    def state(self) -> str:
        """One word for ``/ready``: ``connected`` or ``disconnected``."""
        snapshot = self.counters.snapshot()
        both = snapshot["listener_connected"] and snapshot["publisher_connected"]
        return "connected" if both else "disconnected"

    def stop(self) -> None:
        """Stop the simulator, the listener, expiry, the relay and the embedded broker."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self.simulator is not None:
            self.simulator.stop()
        self.listener.stop()
        self.expiry.stop()
        self.relay.stop()
        self.publisher.close()
        if self.embedded is not None:
            self.embedded.stop()
        log.info("broker side stopped: %s", self.counters.snapshot())
