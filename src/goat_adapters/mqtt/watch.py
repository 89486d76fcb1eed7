"""Saying why a broker connection is not up: refused, unreachable, or taken over.

MQTT 3.1.1 gives a client no reason when the broker closes its connection, and a broker
closes the older connection of a client id as soon as another client connects with the
same id. So a connection that keeps being closed soon after it opened is named for what
it most likely is: another process using our client id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["ConnectionWatch", "reason_text"]

log = logging.getLogger("goat.mqtt")

TAKEOVER_WINDOW = 60.0
"""Seconds in which repeated closes by the broker count as a take-over."""
TAKEOVER_CLOSES = 2
"""Closes by the broker within the window that name another client as the cause."""
UNREACHABLE_EVERY = 30.0
"""Seconds between warnings while the broker cannot be reached at all."""


def reason_text(reason_code: Any) -> str:
    """paho's reason code as words, with its number (``Not authorized (135)``)."""
    if isinstance(reason_code, ReasonCode):
        return f"{reason_code.getName()} ({reason_code.value})"
    return str(reason_code)


class ConnectionWatch:
    """Logs a client's connection troubles once per cause, as warnings that name it.

    ``role`` is what the client is (``listener``, ``publisher``), ``url`` the broker's
    address without a password, ``client_id`` the id it connects with.
    """

    def __init__(self, role: str, url: str, client_id: str, *, clock: Any = time.monotonic) -> None:
        self.role = role
        self.url = url
        self.client_id = client_id
        self._clock = clock
        self._lock = threading.Lock()
        self._closes: deque[float] = deque(maxlen=TAKEOVER_CLOSES)
        self._unreachable_since: float | None = None
        self._last_unreachable_warning: float | None = None
        self.last_cause = ""
        """The last cause warned about (for tests and ``/ready``)."""

    def connected(self) -> None:
        """The broker accepted the connection."""
        with self._lock:
            if self._unreachable_since is not None:
                log.info("%s reached %s again", self.role, self.url)
            self._unreachable_since = self._last_unreachable_warning = None

    def refused(self, reason_code: Any) -> None:
        """The broker answered CONNACK with a failure."""
        self._warn(
            f"{self.role}: broker {self.url} refused the connection of {self.client_id}:"
            f" {reason_text(reason_code)}"
        )

    def unreachable(self) -> None:
        """The connection could not even be opened (paho's ``on_connect_fail``)."""
        now = self._clock()
        with self._lock:
            if self._unreachable_since is None:
                self._unreachable_since = now
            last = self._last_unreachable_warning
            if last is not None and now - last < UNREACHABLE_EVERY:
                return
            self._last_unreachable_warning = now
            waited = now - self._unreachable_since
        self._warn(
            f"{self.role}: broker {self.url} cannot be reached"
            f" (for {waited:.0f}s); retrying, nothing is received meanwhile"
        )

    def lost(self, reason_code: Any) -> None:
        """The connection closed without our asking."""
        now = self._clock()
        with self._lock:
            self._closes.append(now)
            repeated = (
                len(self._closes) == TAKEOVER_CLOSES and now - self._closes[0] < TAKEOVER_WINDOW
            )
        if repeated and _closed_by_broker(reason_code):
            self._warn(
                f"{self.role}: broker {self.url} closed the connection of {self.client_id}"
                f" {TAKEOVER_CLOSES} times within {TAKEOVER_WINDOW:.0f}s"
                f" ({reason_text(reason_code)}): another client is most likely connecting"
                " with the same client id and taking the session over; give each process"
                " its own GOAT_MQTT_CLIENT_ID, or leave it unset for a unique one"
            )
        else:
            self._warn(f"{self.role} lost {self.url} ({reason_text(reason_code)}); reconnecting")

    def _warn(self, cause: str) -> None:
        self.last_cause = cause
        log.warning("%s", cause)


def _closed_by_broker(reason_code: Any) -> bool:
    """paho reports a socket the broker closed as "Unspecified error" (MQTT 3.1.1), and a
    take-over under MQTT 5 as "Session taken over"."""
    name = reason_code.getName() if isinstance(reason_code, ReasonCode) else str(reason_code)
    return name in ("Unspecified error", "Session taken over")
