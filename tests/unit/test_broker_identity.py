"""Which MQTT client id a process uses, how connection troubles are named, and how the relay
shares the outbox through a lease."""

from __future__ import annotations

import logging
import threading

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from goat_adapters.mqtt.watch import ConnectionWatch
from goat_app.compose import mqtt_identity
from goat_app.relay import OutboxRelay
from goat_app.settings import Settings
from goat_core.errors import Unavailable
from tests.waiting import wait_until

CLOSED = ReasonCode(PacketTypes.DISCONNECT, "Unspecified error")


def test_default_client_ids_are_unique_per_process_with_a_clean_session() -> None:
    """Without GOAT_MQTT_CLIENT_ID every process makes up its own id and keeps no session."""
    first, persistent = mqtt_identity(Settings(), "listener")
    second, _ = mqtt_identity(Settings(), "listener")
    serve, _ = mqtt_identity(Settings(group_id="7"), "serve")

    assert first != second
    assert first.startswith("goat-15-listener-")
    assert serve.startswith("goat-7-serve-")
    assert not persistent


def test_a_configured_client_id_is_stable_with_a_persistent_session() -> None:
    """GOAT_MQTT_CLIENT_ID is used as it is, with a session the broker keeps."""
    assert mqtt_identity(Settings(mqtt_client_id="goat-15-a"), "listener") == ("goat-15-a", True)


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_repeated_closes_by_the_broker_name_a_client_id_taken_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two closes by the broker within a minute are a warning naming the shared client id."""
    clock = Ticking()
    watch = ConnectionWatch("listener", "mqtt://b:1883", "goat-15-x", clock=clock)

    watch.lost(CLOSED)
    assert "same client id" not in watch.last_cause
    clock.now = 5.0
    with caplog.at_level(logging.WARNING, "goat.mqtt"):
        watch.lost(CLOSED)

    assert "same client id" in watch.last_cause
    assert "goat-15-x" in watch.last_cause
    assert "Unspecified error (128)" in watch.last_cause
    assert caplog.records[-1].levelno == logging.WARNING


def test_closes_far_apart_are_only_a_lost_connection() -> None:
    """A close now and then is reported as a lost connection, without blaming another client."""
    clock = Ticking()
    watch = ConnectionWatch("listener", "mqtt://b:1883", "goat-15-x", clock=clock)
    watch.lost(CLOSED)
    clock.now = 120.0

    watch.lost(CLOSED)

    assert watch.last_cause == "listener lost mqtt://b:1883 (Unspecified error (128)); reconnecting"


def test_a_refused_connection_names_the_brokers_reason() -> None:
    """A CONNACK failure is a warning with paho's reason, by name and number."""
    watch = ConnectionWatch("listener", "mqtt://b:1883", "goat-15-x")

    watch.refused(ReasonCode(PacketTypes.CONNACK, "Not authorized"))

    assert "refused" in watch.last_cause
    assert "Not authorized (135)" in watch.last_cause


def test_an_unreachable_broker_is_warned_about_every_half_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Failing to connect warns at once, then at most every 30 s, saying for how long."""
    clock = Ticking()
    watch = ConnectionWatch("listener", "mqtt://b:1883", "goat-15-x", clock=clock)
    with caplog.at_level(logging.WARNING, "goat.mqtt"):
        for second in range(0, 61, 2):
            clock.now = float(second)
            watch.unreachable()

    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3
    assert "cannot be reached (for 60s)" in said[-1]


class Lease:
    """An outbox lease the test grants or withholds."""

    def __init__(self, granted: bool | None) -> None:
        self.granted = granted
        self.released = threading.Event()

    def acquire(self) -> bool:
        if self.granted is None:
            raise Unavailable("database down")
        return self.granted

    def release(self) -> None:
        self.released.set()


@pytest.mark.parametrize("granted", [False, None], ids=["held-elsewhere", "database-down"])
def test_a_relay_without_the_lease_stands_by_and_takes_over_when_granted(
    granted: bool | None,
) -> None:
    """A relay sends nothing while another holds the lease (or it cannot be asked for), then
    sends once it gets it, and gives it back when stopped."""
    sent: list[int] = []

    def send() -> int:
        sent.append(1)
        return 0

    lease = Lease(granted)
    relay = OutboxRelay(send, interval=0.01, lease=lease, standby_interval=0.01).start()
    try:
        threading.Event().wait(0.1)
        assert sent == []
        lease.granted = True
        wait_until(lambda: len(sent) > 0, timeout=5)
    finally:
        relay.stop()
    assert lease.released.is_set()


@pytest.mark.parametrize("step_down_after", [3, None])
def test_a_relay_that_keeps_failing_gives_its_lease_up_after_so_many_rounds(
    step_down_after: int | None,
) -> None:
    """With ``step_down_after``, a relay whose sends fail that many rounds in a row releases
    the lease, so that another process relays; one without keeps it."""
    rounds: list[int] = []

    def send() -> int:
        rounds.append(1)
        raise Unavailable("this process's queue is down")

    lease = Lease(True)
    relay = OutboxRelay(
        send, interval=0.01, lease=lease, standby_interval=10, step_down_after=step_down_after
    ).start()
    try:
        if step_down_after is None:
            wait_until(lambda: len(rounds) >= 10, timeout=5)
            assert not lease.released.is_set()
            assert relay.publishing
        else:
            wait_until(lease.released.is_set, timeout=5)
            assert len(rounds) == step_down_after
            assert not relay.publishing
    finally:
        relay.stop()


def test_a_relay_gives_its_lease_up_only_after_failures_in_a_row_and_takes_it_back() -> None:
    """Failures that a sent round interrupts never add up; alone on the database, a relay
    that gave its lease up takes it back after ``standby_interval`` and, failing again,
    gives it up again after as many rounds."""
    rounds: list[str] = []
    script = iter(["fail", "fail", "ok"] * 5 + ["fail"] * 6)

    def send() -> int:
        outcome = next(script, "ok")
        rounds.append(outcome)
        if outcome == "fail":
            raise Unavailable("this process's queue is down")
        return 0

    releases: list[int] = []

    class Counted(Lease):
        def release(self) -> None:
            releases.append(len(rounds))

    relay = OutboxRelay(
        send, interval=0.01, lease=Counted(True), standby_interval=0.05, step_down_after=3
    ).start()
    try:
        wait_until(lambda: len(releases) >= 2, timeout=5)
    finally:
        relay.stop()
    assert releases[:2] == [15 + 3, 15 + 6]


def test_the_listener_probe_port_is_a_setting() -> None:
    """GOAT_LISTENER_PORT names the probe port of ``goat listener``; unset, there is none."""
    assert Settings.from_env({"GOAT_LISTENER_PORT": "9102"}).listener_port == 9102
    assert Settings.from_env({}).listener_port is None
