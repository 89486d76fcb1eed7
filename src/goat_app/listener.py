"""``goat listener``: the broker side as a process of its own.

It applies every broker message exactly once and sends the outbox (and lets unpaid
Webpay purchases expire) until SIGTERM/SIGINT. What runs is built by the composition
root (``goat_app.compose``); this module only waits for the signal to stop it, and, with
``GOAT_LISTENER_PORT``, answers ``/health`` and ``/ready`` on that port for whoever runs it
(a container's health check, a load balancer), and ``/metrics`` for Prometheus.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from goat_app.compose import BrokerOptions, System, build_system
from goat_app.metrics import CONTENT_TYPE, render, system_registry
from goat_app.settings import Settings

__all__ = ["ProbeServer", "readiness", "run_listener", "wait_for_signal"]

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


class ProbeServer:
    """``/health`` (the process runs), ``/ready`` (``readiness``) and ``/metrics``
    (Prometheus' text) over plain HTTP, in a thread; ``port`` 0 picks a free one (see
    ``address``)."""

    # every interface: the probes are for an orchestrator outside the container
    def __init__(self, system: System, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104
        probed = system
        registry = system_registry(system)

        class Probe(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/health":
                    self._answer(200, {"status": "ok"})
                elif self.path == "/ready":
                    ready, checks = readiness(probed)
                    self._answer(200 if ready else 503, {"ready": ready, "checks": checks})
                elif self.path == "/metrics":
                    self._send(200, render(registry), CONTENT_TYPE)
                else:
                    self._answer(404, {"detail": "only /health, /ready and /metrics are here"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Probes come every few seconds: not worth a log line each."""

        self._server = ThreadingHTTPServer((host, port), Probe)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="goat-probes", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> ProbeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def run_listener(settings: Settings, stop: threading.Event | None = None) -> None:
    """``goat listener``: apply broker messages and send the outbox until SIGTERM/SIGINT.

    Needs ``GOAT_MQTT_URL``; without it, it listens to the embedded broker's address
    (127.0.0.1:1883), e.g. one that a ``goat serve`` on this machine runs.
    """
    system = build_system(settings, broker=BrokerOptions(embedded_port=None))
    probes = None
    try:
        if settings.listener_port is not None:
            probes = ProbeServer(system, settings.listener_port).start()
            log.info("/health, /ready and /metrics on port %d", probes.address[1])
        wait_for_signal(stop)
    finally:
        log.info("stopping the listener")
        if probes is not None:
            probes.stop()
        system.close()
