"""An MQTT broker inside the process (amqtt), for ``goat serve`` and where mosquitto is absent.

amqtt is asyncio; goat is synchronous, so the broker gets its own thread and event loop
and the rest of goat talks to it over TCP like to any broker. It keeps sessions in
memory only: a restart forgets them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import Future
from typing import Any

from goat_core.errors import Unavailable

__all__ = ["EmbeddedBroker"]

log = logging.getLogger("goat.mqtt.embedded")


class EmbeddedBroker:
    """An amqtt broker on ``host:port`` in a background thread: ``start()``, ``stop()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Start listening; raise ``Unavailable`` if the port cannot be bound in time."""
        # both narrate every packet and state change at INFO: too much beside goat's own log
        for chatty in ("amqtt", "transitions"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        started: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="goat-embedded-broker", daemon=True
        )
        self._thread.start()
        try:
            started.result(timeout)
        except Exception as error:
            raise Unavailable(f"embedded broker on {self.host}:{self.port}: {error}") from None
        log.info("embedded MQTT broker listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down and wait for its thread."""
        loop, broker = self._loop, self._broker
        if loop is None or broker is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(timeout)
        except Exception:
            log.exception("embedded broker did not shut down cleanly")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        self._loop = self._broker = self._thread = None

    def _run(self, started: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._broker = loop.run_until_complete(self._start())
        except BaseException as error:
            started.set_exception(error)
            loop.close()
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _start(self) -> Any:
        # amqtt's import is heavy; only goat serve and some tests need it
        from amqtt.broker import Broker  # type: ignore[import-untyped]  # amqtt ships no types

        _check_free(self.host, self.port)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        await broker.start()
        return broker


def _check_free(host: str, port: int) -> None:
    """Fail clearly when the port is taken (amqtt would only log it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(f"port {port} is in use: {error.strerror}") from None
