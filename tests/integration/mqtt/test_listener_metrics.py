"""``goat listener``'s probe port serves ``/metrics``: broker messages by topic and outcome,
the relay's lease, the outbox backlog and dead letters."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from goat_app.settings import Settings
from goat_core.wire import TOPIC_INFO
from tests.integration.mqtt.support import Peer, sample, wait_until
from tests.integration.mqtt.test_listener_probes import get, listening
from tests.servers.mqtt import MqttServer, free_port

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample the listener's ``/metrics`` shows, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def applied(samples: Samples, topic: str) -> float:
    """``goat_broker_messages_total`` of ``topic`` with outcome ``applied``."""
    return samples.get(
        ("goat_broker_messages_total", (("outcome", "applied"), ("topic", topic))), 0.0
    )


def test_listener_metrics_count_messages_by_topic(
    broker: MqttServer, database_url: str, tmp_path: Path
) -> None:
    """A fixtures/info message heard by the listener shows on its port's /metrics as applied,
    beside the relay's lease, the outbox backlog, the dead letters and the pool's connections."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mqtt_url=broker.url,
        listener_port=free_port(),
    )
    with listening(settings) as port:
        wait_until(lambda: get(port, "/ready")[0] == 200, what="ready")
        assert applied(scrape(port), TOPIC_INFO) == 0
        peer = Peer(broker.url)
        try:
            peer.send(TOPIC_INFO, sample("fixtures_info.json"))
            wait_until(lambda: applied(scrape(port), TOPIC_INFO) >= 1, what="info counted")
        finally:
            peer.close()
        samples = scrape(port)
        assert samples[("goat_broker_received_total", ())] >= 1
        assert samples[("goat_relay_publishing", ())] == 1
        assert samples[("goat_job_relay_publishing", ())] == 1
        assert samples[("goat_outbox_backlog", ())] == 0
        assert samples[("goat_dead_letters", ())] == 0
        assert samples[("goat_broker_connected", (("client", "listener"),))] == 1
        if database_url.startswith("postgresql"):
            in_use = samples[("goat_db_pool_connections", (("state", "in_use"),))]
            assert 0 <= in_use <= samples[("goat_db_pool_connections", (("state", "size"),))]
