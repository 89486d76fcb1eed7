"""``PahoBrokerPublisher`` and the relay: acknowledged means sent, unreachable means Unavailable."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from paho.mqtt.enums import MQTTErrorCode

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    InMemoryStore,
    ManualClock,
    SequentialIds,
)
from goat_adapters.mqtt import BrokerAddress, PahoBrokerPublisher
from goat_app.broker import BrokerCounters
from goat_app.relay import OutboxRelay
from goat_core.errors import InvalidInput, NotAllPublished, Unavailable
from goat_core.services import Exchange
from goat_core.wire import TOPIC_VALIDATION
from tests.integration.mqtt.support import Recorder, wait_until
from tests.servers.mqtt import MqttServer, free_port


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1", BrokerAddress("127.0.0.1", 1883)),
        ("tcp://broker.example:9001", BrokerAddress("broker.example", 9001)),
        ("mqtt://us%40er:p%3Ass@host:1884", BrokerAddress("host", 1884, "us@er", "p:ss")),
    ],
)
def test_broker_urls_are_read_with_credentials(url: str, expected: BrokerAddress) -> None:
    """GOAT_MQTT_URL gives host, port (1883 by default) and URL-decoded user and password."""
    assert BrokerAddress.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://host:1883", "mqtt://", "mqtt://host:port"])
def test_a_broker_url_that_is_not_one_is_refused(url: str) -> None:
    """A URL that does not name an MQTT broker is an input error naming mqtt_url."""
    with pytest.raises(InvalidInput, match="mqtt_url"):
        BrokerAddress.from_url(url)


def test_the_password_never_shows() -> None:
    """Neither the address's repr nor its URL carries the password."""
    address = BrokerAddress.from_url("mqtt://goat:s3cret@host:1883")
    assert "s3cret" not in repr(address)
    assert "s3cret" not in address.url


@contextlib.contextmanager
def _publishing(
    broker: MqttServer, timeout: float = 5.0
) -> Iterator[tuple[PahoBrokerPublisher, Recorder, BrokerCounters]]:
    """A connected publisher, its counters, and a recorder of fixtures/validation; both
    closed afterwards."""
    recorder = Recorder(broker.url, (TOPIC_VALIDATION,))
    counters = BrokerCounters()
    publisher = PahoBrokerPublisher(
        BrokerAddress.from_url(broker.url),
        "test-publisher",
        timeout=timeout,
        on_published=counters.count_published,
    ).start()
    try:
        assert publisher.wait_connected(10)
        yield publisher, recorder, counters
    finally:
        publisher.close()
        recorder.close()


@pytest.mark.integration
def test_publish_returns_once_the_broker_acknowledged(broker: MqttServer) -> None:
    """A published message is on the broker when publish returns; the counter says so."""
    with _publishing(broker) as (publisher, recorder, counters):
        publisher.publish(TOPIC_VALIDATION, '{"request_id": "r", "valid": true}')
        wait_until(lambda: recorder.payloads(TOPIC_VALIDATION))
    assert counters.snapshot()["published"] == 1


class _Info:
    """A paho ``MQTTMessageInfo`` as the publisher sees it: ``rc`` set when handed to paho;
    ``is_published`` raises for a message handed over while disconnected, as paho's does."""

    def __init__(self, rc: MQTTErrorCode, acknowledged: bool) -> None:
        self.rc = rc
        self.acknowledged = acknowledged

    def is_published(self) -> bool:
        if self.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise RuntimeError("Message publish failed")
        return self.acknowledged

    def wait_for_publish(self, timeout: float) -> None:
        self.is_published()


class _Paho:
    """Hands out the next of ``infos`` for each message published."""

    def __init__(self, *infos: _Info) -> None:
        self.infos = list(infos)

    def publish(self, topic: str, payload: bytes, qos: int) -> _Info:
        return self.infos.pop(0)


def _publisher_over(client: _Paho) -> PahoBrokerPublisher:
    publisher = PahoBrokerPublisher(BrokerAddress("127.0.0.1", 1883), "test", timeout=0.1)
    publisher._client = client  # type: ignore[assignment]
    publisher._started = True
    publisher._connected.set()
    return publisher


def test_a_batch_cut_by_a_lost_connection_says_how_many_were_acknowledged() -> None:
    """Messages paho took while the connection was already gone end the batch with
    NotAllPublished (not paho's RuntimeError), counting the acknowledged ones before."""
    sent, lost = MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN
    publisher = _publisher_over(_Paho(_Info(sent, True), _Info(lost, False), _Info(lost, False)))
    with pytest.raises(NotAllPublished) as raised:
        publisher.publish_many([(TOPIC_VALIDATION, "{}")] * 3)
    assert raised.value.acknowledged == 1


def test_no_batch_goes_out_while_an_earlier_one_waits_for_the_broker() -> None:
    """A message the broker has not acknowledged in time stays in paho: the next batch
    waits for it (and fails after the timeout, sending nothing), then goes out."""
    sent = MQTTErrorCode.MQTT_ERR_SUCCESS
    waiting = _Info(sent, False)
    paho = _Paho(_Info(sent, True), waiting, _Info(sent, True))
    publisher = _publisher_over(paho)
    with pytest.raises(NotAllPublished) as first:
        publisher.publish_many([(TOPIC_VALIDATION, "{}")] * 2)
    with pytest.raises(NotAllPublished, match="earlier batch") as second:
        publisher.publish_many([(TOPIC_VALIDATION, "{}")])
    assert (first.value.acknowledged, second.value.acknowledged) == (1, 0)
    assert len(paho.infos) == 1  # nothing handed to paho meanwhile
    waiting.acknowledged = True
    publisher.publish_many([(TOPIC_VALIDATION, "{}")])
    assert paho.infos == []


@pytest.mark.integration
def test_a_batch_goes_out_whole_and_in_order(broker: MqttServer) -> None:
    """publish_many returns once every message of the batch was acknowledged; a subscriber
    hears them in the order given."""
    payloads = [f'{{"request_id": "r{n}", "valid": true}}' for n in range(150)]
    with _publishing(broker) as (publisher, recorder, counters):
        publisher.publish_many([(TOPIC_VALIDATION, payload) for payload in payloads])
        assert counters.snapshot()["published"] == 150
        wait_until(lambda: len(recorder.payloads(TOPIC_VALIDATION)) == 150)
        heard = recorder.payloads(TOPIC_VALIDATION)
    assert heard == [json.loads(p) for p in payloads]


@pytest.mark.integration
def test_a_batch_that_stops_midway_says_how_many_were_acknowledged(broker: MqttServer) -> None:
    """A message paho refuses (a wildcard topic) ends the batch: the error says how many
    of the first went out, and only those were counted and heard."""
    ok = (TOPIC_VALIDATION, '{"request_id": "r", "valid": true}')
    with _publishing(broker) as (publisher, recorder, counters):
        with pytest.raises(NotAllPublished) as raised:
            publisher.publish_many([ok, ok, ("fixtures/#", "{}"), ok])
        wait_until(lambda: len(recorder.payloads(TOPIC_VALIDATION)) == 2)
    assert raised.value.acknowledged == 2
    assert counters.snapshot()["published"] == 2


@pytest.mark.integration
def test_a_stalled_broker_gets_a_batch_once_however_often_the_relay_retries(
    broker: MqttServer,
) -> None:
    """While the broker does not acknowledge a batch, retrying it queues no more copies in
    paho: once the broker goes on it hears the stalled batch once, then the retry."""
    if broker.kind != "mosquitto":
        pytest.skip("needs mosquitto (a process that can be stalled)")
    batch = [(TOPIC_VALIDATION, f'{{"request_id": "r{n}", "valid": true}}') for n in range(3)]
    with _publishing(broker, timeout=0.5) as (publisher, recorder, _):
        broker.stall()
        try:
            for _ in range(3):  # as the relay would, every round
                with pytest.raises(NotAllPublished) as raised:
                    publisher.publish_many(batch)
                assert raised.value.acknowledged == 0
        finally:
            broker.stall(False)
        publisher.timeout = 10
        publisher.publish_many(batch)
        wait_until(lambda: len(recorder.payloads(TOPIC_VALIDATION)) >= 6)
        time.sleep(0.5)  # any further copy would arrive now
        heard = [m["request_id"] for m in recorder.payloads(TOPIC_VALIDATION)]
    assert heard == ["r0", "r1", "r2"] * 2


@pytest.mark.integration
def test_a_batch_without_a_broker_says_none_was_acknowledged() -> None:
    """With nothing listening, publish_many fails at once: not one message acknowledged."""
    address = BrokerAddress("127.0.0.1", free_port())
    publisher = PahoBrokerPublisher(address, "test-publisher", timeout=1).start()
    try:
        with pytest.raises(NotAllPublished) as raised:
            publisher.publish_many([(TOPIC_VALIDATION, "{}")] * 3)
    finally:
        publisher.close()
    assert raised.value.acknowledged == 0


@pytest.mark.integration
def test_publish_without_a_broker_raises_unavailable() -> None:
    """With nothing listening, publish fails at once with Unavailable, not a paho error."""
    address = BrokerAddress("127.0.0.1", free_port())
    publisher = PahoBrokerPublisher(address, "test-publisher", timeout=1).start()
    try:
        with pytest.raises(Unavailable):
            publisher.publish(TOPIC_VALIDATION, "{}")
    finally:
        publisher.close()


@pytest.mark.integration
def test_the_relay_keeps_the_outbox_while_the_broker_is_away(tmp_path: Path) -> None:
    """Messages queued while no broker answers stay in the outbox and go out once one does."""
    store = InMemoryStore()
    exchange = Exchange(
        uow=store.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=InMemoryJobQueue(),
        clock=ManualClock(),
        ids=SequentialIds(),
    )
    with store.unit_of_work() as uow:
        for n in range(3):
            uow.outbox.add(TOPIC_VALIDATION, f'{{"request_id": "r{n}"}}')
        uow.commit()
    port = free_port()
    publisher = PahoBrokerPublisher(BrokerAddress("127.0.0.1", port), "test-relay").start()
    counters = BrokerCounters()

    def backlog() -> int:
        with store.unit_of_work() as uow:
            return uow.outbox.backlog()

    relay = OutboxRelay(
        lambda: exchange.relay_outbox(publisher),
        backlog,
        interval=0.05,
        on_backlog=counters.set_backlog,
    ).start()
    server = MqttServer(tmp_path / "late-broker", port=port)
    try:
        relay.wake()
        assert backlog() == 3
        server.start()
        wait_until(lambda: backlog() == 0, what="the outbox to drain")
    finally:
        relay.stop()
        publisher.close()
        server.stop()
    assert counters.snapshot()["backlog"] == 0
