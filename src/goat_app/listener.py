"""``goat listener``: the broker side as a process of its own.

It applies every broker message exactly once and sends the outbox (and lets unpaid
Webpay purchases expire) until SIGTERM/SIGINT. What runs is built by the composition
root (``goat_app.compose``); this module only waits for the signal to stop it, and, with
``GOAT_LISTENER_PORT``, answers ``/health`` and ``/ready`` on that port for whoever runs it
(a container's health check, a load balancer), and ``/metrics`` for Prometheus.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from goat_app.compose import BrokerOptions, System, build_system
from goat_app.metrics import system_registry
from goat_app.probes import Answer, ProbeServer, json_answer, metrics_answer
from goat_app.settings import Settings
from goat_app.startup import keep_startup_objects

__all__ = ["probes", "readiness", "run_listener", "wait_for_signal"]

log = logging.getLogger("goat.listener")


def wait_for_signal(stop: threading.Event | None = None) -> None:
    """Block until SIGTERM or SIGINT (or ``stop`` is set)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def readiness(system: System) -> tuple[bool, dict[str, Any]]:
    """Whether the listener is ready (database answers, subscribed to the broker), and why.

    A relay standing by while another holds the outbox lease is ready: it takes over when
    the holder goes.
    """
    try:
        backlog: int | None = system.exchange.outbox_backlog()
        database = f"up ({system.database_kind})"
    except Exception as error:  # any failure means not ready; the reason is shown
        backlog, database = None, f"down: {type(error).__name__}"
    side = system.broker
    broker = side.state() if side is not None else "not run by this process"
    relay = "publishing" if side is not None and side.relay.publishing else "standing by"
    ready = database.startswith("up") and broker == "connected"
    checks: dict[str, Any] = {"database": database, "broker": broker, "outbox": relay}
    if backlog is not None:
        checks["outbox_backlog"] = backlog
    if side is not None:
        checks["counters"] = side.counters.snapshot()
    return ready, checks


def probes(system: System) -> dict[str, Callable[[], Answer]]:
    """The listener's routes: ``/health``, ``/ready`` (``readiness``) and ``/metrics``."""

    def ready() -> Answer:
        is_ready, checks = readiness(system)
        return json_answer(200 if is_ready else 503, {"ready": is_ready, "checks": checks})

    return {
        "/health": lambda: json_answer(200, {"status": "ok"}),
        "/ready": ready,
        "/metrics": metrics_answer(system_registry(system)),
    }


def run_listener(settings: Settings, stop: threading.Event | None = None) -> None:
    """``goat listener``: apply broker messages and send the outbox until SIGTERM/SIGINT.

    Needs ``GOAT_MQTT_URL``; without it, it listens to the embedded broker's address
    (127.0.0.1:1883), e.g. one that a ``goat serve`` on this machine runs. Without
    ``stop``, it owns its process: it stops on a signal, and keeps what it built out of
    the garbage collector's sight (``keep_startup_objects``).
    """
    system = build_system(settings, broker=BrokerOptions(embedded_port=None))
    if stop is None:
        keep_startup_objects()
    server = None
    try:
        if settings.listener_port is not None:
            server = ProbeServer(probes(system), settings.listener_port).start()
            log.info("/health, /ready and /metrics on port %d", server.address[1])
        wait_for_signal(stop)
    finally:
        log.info("stopping the listener")
        if server is not None:
            server.stop()
        system.close()
