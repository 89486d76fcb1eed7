"""A small HTTP server in a thread for the processes that serve no API: ``goat listener``
and ``goat worker`` answer their orchestrator's probes and Prometheus' scrapes with it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry

from goat_app.metrics import CONTENT_TYPE, render

__all__ = ["Answer", "ProbeServer", "json_answer", "metrics_answer"]

Answer = tuple[int, bytes, str]
"""A status, a body and its content type."""


def json_answer(status: int, body: Mapping[str, Any]) -> Answer:
    """A JSON document with ``status``."""
    return status, json.dumps(body).encode(), "application/json"


def metrics_answer(registry: CollectorRegistry) -> Callable[[], Answer]:
    """The route that renders ``registry`` in Prometheus' text format."""
    return lambda: (200, render(registry), CONTENT_TYPE)


class ProbeServer:
    """Answers GET on each path of ``routes`` (404 elsewhere) in a daemon thread; ``port``
    0 picks a free one (see ``address``)."""

    # every interface: the probes are for an orchestrator outside the container
    def __init__(
        self,
        routes: Mapping[str, Callable[[], Answer]],
        port: int,
        host: str = "0.0.0.0",  # noqa: S104
        name: str = "goat-probes",
    ) -> None:
        missing = json_answer(404, {"detail": f"only {', '.join(routes)} are here"})

        class Probe(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path)
                status, data, content_type = route() if route is not None else missing
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Probes come every few seconds: not worth a log line each."""

        self._server = ThreadingHTTPServer((host, port), Probe)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

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
