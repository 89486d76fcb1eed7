"""``goat listener``: the broker side as a process of its own.

It applies every broker message exactly once and sends the outbox (and lets unpaid
Webpay purchases expire) until SIGTERM/SIGINT. What runs is built by the composition
root (``goat_app.compose``); this module only waits for the signal to stop it.
"""

from __future__ import annotations

import logging
import signal
import threading

from goat_app.compose import BrokerOptions, build_system
from goat_app.settings import Settings

__all__ = ["run_listener", "wait_for_signal"]

log = logging.getLogger("goat.listener")


def wait_for_signal(stop: threading.Event | None = None) -> None:
    """Block until SIGTERM or SIGINT (or ``stop`` is set)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def run_listener(settings: Settings, stop: threading.Event | None = None) -> None:
    """``goat listener``: apply broker messages and send the outbox until SIGTERM/SIGINT.

    Needs ``GOAT_MQTT_URL``; without it, it listens to the embedded broker's address
    (127.0.0.1:1883), e.g. one that a ``goat serve`` on this machine runs.
    """
    system = build_system(settings, broker=BrokerOptions(embedded_port=None))
    try:
        wait_for_signal(stop)
    finally:
        log.info("stopping the listener")
        system.close()
