"""MQTT shared subscriptions (``GOAT_MQTT_SHARE_GROUP``): listeners of one group split the
broker's messages instead of each hearing all of them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from goat_adapters.mqtt import BrokerAddress, Delivery, PahoListener
from goat_app.settings import Settings, SettingsError
from goat_core.wire import TOPIC_AUCTIONS
from tests.integration.mqtt.support import Peer, wait_until
from tests.servers.mqtt import MqttServer

pytestmark = pytest.mark.integration


def recording(into: list[str], lock: threading.Lock) -> Callable[[Sequence[Delivery]], list[str]]:
    """A listener's handler that records each payload it is handed and applies nothing."""

    def handle(messages: Sequence[Delivery]) -> list[str]:
        with lock:
            into.extend(payload.decode() for _, payload in messages)
        return ["ignored"] * len(messages)

    return handle


def test_listeners_of_one_share_group_split_the_messages(broker: MqttServer) -> None:
    """Two listeners in share group ``goat`` hear each of 40 messages once between them."""
    if broker.kind != "mosquitto":
        pytest.skip("the embedded amqtt broker offers no shared subscriptions")
    address = BrokerAddress.from_url(broker.url)
    lock = threading.Lock()
    heard: list[list[str]] = [[], []]
    listeners = [
        PahoListener(
            address,
            f"shared-{n}",
            recording(heard[n], lock),
            topics=[TOPIC_AUCTIONS],
            persistent=False,
            share_group="goat",
        ).start()
        for n in range(2)
    ]
    peer = Peer(broker.url)
    try:
        assert all(listener.wait_subscribed(10) for listener in listeners)
        sent = [f'{{"auction_id": "a{n}", "fixture_id": 1}}' for n in range(40)]
        for payload in sent:
            peer.send(TOPIC_AUCTIONS, payload)
        wait_until(lambda: len(heard[0]) + len(heard[1]) >= len(sent), what="all heard")
    finally:
        peer.close()
        for listener in listeners:
            listener.stop()
    assert sorted(heard[0] + heard[1]) == sorted(sent)
    assert heard[0]
    assert heard[1]


def test_share_group_setting_is_off_by_default_and_a_plain_name() -> None:
    """GOAT_MQTT_SHARE_GROUP is unset by default, a plain name when set, and refused when it
    holds MQTT's wildcards or separators."""
    assert Settings.from_env({}).mqtt_share_group is None
    assert Settings.from_env({"GOAT_MQTT_SHARE_GROUP": "goat"}).mqtt_share_group == "goat"
    with pytest.raises(SettingsError, match="GOAT_MQTT_SHARE_GROUP"):
        Settings.from_env({"GOAT_MQTT_SHARE_GROUP": "a/b"})
