"""Loops run in threads: the outbox relay, the job relay and periodic tasks.

They only decide *when* to call: what is sent and how comes from the core
(``Exchange.relay_outbox``, ``Exchange.relay_jobs``, ``Exchange.expire_payments``) and
the adapters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from goat_core.errors import Busy, Unavailable
from goat_core.ports import OutboxLease

__all__ = ["RETRYABLE", "OutboxRelay", "Periodic"]

log = logging.getLogger("goat.relay")

RETRYABLE = (Unavailable, Busy)
"""Errors after which the same work is simply tried again later."""


class OutboxRelay:
    """A thread that publishes the outbox: every ``interval`` seconds, or when woken.

    ``send`` is ``lambda: exchange.relay_outbox(publisher, batch)`` (or
    ``exchange.relay_jobs`` for the job relay, ``name="jobs"``); after each round
    ``on_backlog`` (if given) is told how many messages ``backlog`` says still wait. An
    outage only delays: the outbox keeps what was not acknowledged.

    With a ``lease`` (``ports.OutboxLease``), a round runs only while this relay holds
    it: of any number of relays of one outbox on one database exactly one sends, oldest
    first, and the others stand by, asking again every ``standby_interval`` seconds, to
    take over when the holder stops or dies. The lease is released on ``stop()``, and
    with ``step_down_after`` after that many failed rounds in a row.
    """

    def __init__(
        self,
        send: Callable[[], int],
        backlog: Callable[[], int] | None = None,
        *,
        interval: float = 0.2,
        on_backlog: Callable[[int], None] | None = None,
        lease: OutboxLease | None = None,
        standby_interval: float = 3.0,
        step_down_after: int | None = None,
        name: str = "outbox",
    ) -> None:
        self.name = name
        """What it relays, in its thread's name and its log lines (``outbox``, ``jobs``)."""
        self.send = send
        self.backlog = backlog
        self.interval = interval
        self.on_backlog = on_backlog
        self.lease = lease
        self.standby_interval = standby_interval
        self.step_down_after = step_down_after
        """With a lease: after this many failed rounds in a row the relay gives the lease up
        and stands by, so that another process sends (None: it keeps the lease)."""
        self.publishing = False
        """Whether this relay published at its last round (False while standing by)."""
        self._caught_up_at = time.monotonic()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> OutboxRelay:
        """Start relaying in a background thread."""
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"goat-{self.name}-relay", daemon=True
        )
        self._thread.start()
        return self

    def lag(self) -> float:
        """Seconds since this relay last found nothing left to send (0 while standing by).

        Every message still waiting arrived after that moment, so this bounds from above
        how long the oldest of them has waited.
        """
        return time.monotonic() - self._caught_up_at if self.publishing else 0.0

    def wake(self) -> None:
        """Relay now rather than at the next tick (e.g. right after a purchase)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current round."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _holds_lease(self, held: bool | None) -> bool:
        """Whether this relay may publish now; logs when that changes."""
        if self.lease is None:
            return True
        try:
            now = self.lease.acquire()
        except RETRYABLE as error:
            now = False
            if held is not False:
                log.warning("%s lease unavailable, standing by: %s", self.name, error)
        except Exception:
            now = False
            log.exception("could not ask for the %s lease; standing by", self.name)
        if now and not held:
            log.info("this process relays the %s now (it holds the lease)", self.name)
        elif held is not False and not now:
            log.info("another process relays the %s; this one stands by", self.name)
        return now

    def _run(self) -> None:
        try:
            self._relay()
        finally:
            self.publishing = False
            if self.lease is not None:
                self.lease.release()

    def _steps_down(self, failed: int) -> bool:
        """Whether the relay gives its lease up after ``failed`` failed rounds in a row."""
        if self.lease is None or self.step_down_after is None or failed < self.step_down_after:
            return False
        # info: in an outage of every process the lease goes round; "waits" warned already
        log.info(
            "the %s relay failed %d rounds in a row; it gives the lease up to another process",
            self.name,
            failed,
        )
        self.publishing = False  # before the release: never two processes relaying
        self.lease.release()
        return True

    def _relay(self) -> None:
        last_error = ""
        held: bool | None = None
        failed = 0  # rounds in a row
        while not self._stopping.is_set():
            sent = 0
            held = self._holds_lease(held)
            self.publishing = held
            if not held:
                self._stopping.wait(self.standby_interval)
                continue
            try:
                sent = self.send()
                last_error, failed = "", 0
                if not sent:
                    self._caught_up_at = time.monotonic()
                if self.backlog is not None and self.on_backlog is not None:
                    self.on_backlog(self.backlog())
            except RETRYABLE as error:
                failed += 1
                if str(error) != last_error:  # say it once per outage, not 5 times a second
                    log.warning("%s waits: %s", self.name, error)
                    last_error = str(error)
            except Exception:
                failed += 1
                log.exception("%s relay failed; will retry", self.name)
            if self._steps_down(failed):
                held, failed = False, 0
                self._stopping.wait(self.standby_interval)
                continue
            if sent:
                continue  # there may be more right away
            self._wake.wait(self.interval)
            self._wake.clear()


class Periodic:
    """A thread that calls ``task`` at once and then every ``every`` seconds, until stopped.

    A failure is logged and the next round comes as planned: an outage only delays.
    """

    def __init__(self, task: Callable[[], object], every: float, name: str) -> None:
        self.task = task
        self.every = every
        self.name = name
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Periodic:
        """Start the rounds in a background thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"goat-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current round."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.task()
            except RETRYABLE as error:
                log.warning("%s waits: %s", self.name, error)
            except Exception:
                log.exception("%s failed; will retry", self.name)
            self._stopping.wait(self.every)
