"""The outbox relay's lag: how long the oldest waiting message may have waited."""

from __future__ import annotations

import threading
import time

from goat_app.relay import OutboxRelay
from tests.waiting import wait_until


def test_the_lag_grows_while_messages_keep_waiting_and_resets_once_caught_up() -> None:
    """While every round finds more to send the lag grows; a round with nothing left resets it."""
    busy = threading.Event()
    busy.set()

    def send() -> int:
        time.sleep(0.01)
        return 1 if busy.is_set() else 0

    relay = OutboxRelay(send, interval=0.01).start()
    try:
        wait_until(lambda: relay.lag() > 0.2, what="the lag to grow")
        busy.clear()
        wait_until(lambda: relay.lag() < 0.1, what="the relay to catch up")
    finally:
        relay.stop()


def test_a_relay_standing_by_reports_no_lag() -> None:
    """A relay that does not publish (another holds the lease) owns no lag."""
    relay = OutboxRelay(lambda: 1)

    assert relay.lag() == 0.0
