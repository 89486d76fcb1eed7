"""The listener and the relay against a real broker and a real database: effects happen once."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest

from goat_adapters.memory import InMemoryJobQueue
from goat_adapters.mqtt import BrokerAddress, PahoListener
from goat_app.broker import BrokerCounters, BrokerSide
from goat_core.errors import Unavailable
from goat_core.jobs import MakeReceipt
from goat_core.model import Outcome, PurchaseStatus
from goat_core.services import BuyBonds, Exchange
from goat_core.wire import (
    TOPIC_AUCTIONS,
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_REQUESTS,
    TOPIC_VALIDATION,
)
from tests.integration.mqtt.support import Peer, Recorder, sample, sample_items, wait_until
from tests.servers.mqtt import MqttServer

pytestmark = pytest.mark.integration

StartListener = Callable[..., BrokerSide]

# the sample requests, by id: fixture, quantity and the course's verdict
BRENTFORD_WALLET = "0b6f2c3e-5d1a-4d8e-9b7a-1f2e3d4c5b6a"  # 1208083, 3 bonds, accepted
DRAW_WEBPAY = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"  # 1208087, 2 bonds, rejected
AWAY_WALLET = "a3e1b2c4-d5f6-4718-9a0b-c1d2e3f4a5b6"  # 1208086, 1 bond, no verdict


def available(exchange: Exchange, fixture_id: int) -> int | None:
    with exchange.uow() as uow:
        fixture = uow.fixtures.get(fixture_id)
    assert fixture is not None
    return fixture.available_bonds


def status(exchange: Exchange, request_id: str) -> PurchaseStatus | None:
    with exchange.uow() as uow:
        purchase = uow.purchases.get(request_id)
    return purchase.status if purchase else None


def settled(handle: BrokerSide, messages: int) -> Callable[[], bool]:
    """True once the listener has answered ``messages`` messages."""

    def check() -> bool:
        c = handle.counters.snapshot()
        return (
            int(c["applied"]) + int(c["duplicates"]) + int(c["ignored"]) + int(c["malformed"])
            >= messages
        )

    return check


def peer_request(request_id: str, fixture_id: int = 1208083, quantity: int = 1) -> str:
    return json.dumps(
        {
            "request_id": request_id,
            "group_id": "6",
            "fixture_id": fixture_id,
            "league_name": "Premier League",
            "round": "Regular Season - 7",
            "date": "2024-10-05",
            "result": "Brentford",
            "deposit_token": "",
            "datetime": "2024-10-01T18:22:05 UTC",
            "quantity": quantity,
            "wallet": True,
            "seller": 0,
        }
    )


def test_each_topic_has_its_effect(
    start_listener: StartListener, peer: Peer, exchange: Exchange
) -> None:
    """Info stores fixtures, requests reserve, verdicts decide, history settles, auctions stay."""
    handle = start_listener()

    peer.send(TOPIC_INFO, sample("fixtures_info.json"))
    peer.send(TOPIC_INFO, sample("fixtures_info_as_string.json"))  # as the course sends it
    wait_until(settled(handle, 2))
    assert available(exchange, 1208083) == 40

    for payload in sample_items("requests.json"):
        peer.send(TOPIC_REQUESTS, payload)
    for payload in sample_items("validations.json"):
        peer.send(TOPIC_VALIDATION, payload)
    offer = {
        "auction_id": "x",
        "proposal_id": "",
        "fixture_id": 1208083,
        "league_name": "",
        "round": "",
        "result": "---",
        "quantity": 1,
        "group_id": 6,
        "type": "offer",
    }
    peer.send(TOPIC_AUCTIONS, json.dumps(offer))
    wait_until(settled(handle, 8))
    assert status(exchange, BRENTFORD_WALLET) is PurchaseStatus.ACCEPTED
    assert status(exchange, DRAW_WEBPAY) is PurchaseStatus.REJECTED
    assert status(exchange, AWAY_WALLET) is PurchaseStatus.PENDING
    assert available(exchange, 1208083) == 37
    assert available(exchange, 1208087) == 40  # rejected: the bonds came back

    peer.send(TOPIC_HISTORY, sample("history.json"))
    wait_until(settled(handle, 9))
    # Brentford beat Wolves 5-3 in the real capture: the accepted bet on Brentford won
    assert status(exchange, BRENTFORD_WALLET) is PurchaseStatus.WON
    with exchange.uow() as uow:
        assert uow.dead_letters.page(1, 10)[1] == 0
    assert handle.counters.snapshot()["applied"] == 9


def test_every_message_delivered_three_times_is_applied_once(
    start_listener: StartListener, peer: Peer, exchange: Exchange
) -> None:
    """Each message sent three times changes the state once; the repeats count as duplicates."""
    handle = start_listener()
    messages = [(TOPIC_INFO, sample("fixtures_info.json"))]
    messages += [(TOPIC_REQUESTS, p) for p in sample_items("requests.json")]
    messages += [(TOPIC_VALIDATION, p) for p in sample_items("validations.json")]
    for topic, payload in messages:
        peer.send(topic, payload, times=3)

    wait_until(settled(handle, 3 * len(messages)))
    counters = handle.counters.snapshot()
    assert (counters["applied"], counters["duplicates"]) == (len(messages), 2 * len(messages))
    assert available(exchange, 1208083) == 37
    assert available(exchange, 1208086) == 39
    assert available(exchange, 1208087) == 40


def test_validation_before_its_request_is_applied_when_the_request_arrives(
    start_listener: StartListener, peer: Peer, exchange: Exchange
) -> None:
    """A verdict that overtakes its request is parked, then decides the request on arrival."""
    handle = start_listener()
    peer.send(TOPIC_INFO, sample("fixtures_info.json"))
    peer.send(TOPIC_VALIDATION, {"request_id": "early", "group_id": "6", "valid": False})
    wait_until(settled(handle, 2))
    assert status(exchange, "early") is None

    peer.send(TOPIC_REQUESTS, peer_request("early", quantity=4))
    wait_until(settled(handle, 3))
    assert status(exchange, "early") is PurchaseStatus.REJECTED
    assert available(exchange, 1208083) == 40


def test_our_own_echo_changes_nothing(
    start_listener: StartListener, peer: Peer, exchange: Exchange, broker: MqttServer
) -> None:
    """Our purchase goes out through the outbox, comes back from the broker, and is ignored."""
    handle = start_listener()
    peer.send(TOPIC_INFO, sample("fixtures_info.json"))
    wait_until(settled(handle, 1))
    exchange.top_up("alice", 10_000)
    recorder = Recorder(broker.url, (TOPIC_REQUESTS,))
    try:
        bought = exchange.buy_bonds(BuyBonds("alice", 1208083, Outcome.HOME, 2, wallet=True))
        handle.wake()
        wait_until(lambda: recorder.payloads(TOPIC_REQUESTS), what="our request on the broker")
        wait_until(settled(handle, 2), what="the echo")
    finally:
        recorder.close()

    assert recorder.payloads(TOPIC_REQUESTS)[0]["request_id"] == bought.purchase.request_id
    assert handle.counters.snapshot()["ignored"] == 1
    assert status(exchange, bought.purchase.request_id) is PurchaseStatus.PENDING
    assert available(exchange, 1208083) == 38


def test_purchases_made_while_the_broker_restarts_are_all_published(
    start_listener: StartListener, exchange: Exchange, broker: MqttServer
) -> None:
    """A broker outage delays our announcements; every one is published, in order, afterwards."""
    if not broker.persistent:
        pytest.skip("amqtt keeps no session across its restart")
    exchange.receive(TOPIC_INFO, sample("fixtures_info.json"))
    exchange.top_up("alice", 100_000)
    handle = start_listener()
    recorder = Recorder(broker.url, (TOPIC_REQUESTS,))
    bought = []
    try:
        for round_ in range(3):
            for _ in range(5):
                purchase = exchange.buy_bonds(
                    BuyBonds("alice", 1208083, Outcome.DRAW, 1, wallet=True)
                ).purchase
                bought.append(purchase.request_id)
            if round_ == 0:
                broker.stop()  # the next purchases are made while it is down
            elif round_ == 1:
                with exchange.uow() as uow:
                    assert uow.outbox.backlog() >= 5
                broker.start()
        wait_until(
            lambda: len(recorder.payloads(TOPIC_REQUESTS)) >= len(bought),
            timeout=30,
            what="every purchase on the broker",
        )
    finally:
        recorder.close()

    heard = [p["request_id"] for p in recorder.payloads(TOPIC_REQUESTS)]
    assert sorted(set(heard)) == sorted(bought)
    assert [r for r in dict.fromkeys(heard)] == bought  # first appearances keep the order

    def backlog() -> int:
        with exchange.uow() as uow:
            return uow.outbox.backlog()

    # the last one is marked sent just after the broker acknowledged it
    wait_until(lambda: backlog() == 0, timeout=10, what="an empty outbox")
    assert handle.counters.snapshot()["published"] >= len(bought)


def test_messages_sent_while_the_listener_is_away_are_applied_when_it_returns(
    start_listener: StartListener, peer: Peer, exchange: Exchange, persistent_broker: MqttServer
) -> None:
    """The persistent session keeps QoS 1 messages for the listener while it is stopped."""
    first = start_listener()
    peer.send(TOPIC_INFO, sample("fixtures_info.json"))
    wait_until(settled(first, 1))
    first.stop()

    for n in range(20):
        peer.send(TOPIC_REQUESTS, peer_request(f"while-away-{n}"))

    second = start_listener()
    wait_until(settled(second, 20), what="the queued messages")
    assert second.counters.snapshot()["applied"] == 20
    assert available(exchange, 1208083) == 20


def test_a_message_is_not_acknowledged_until_its_effect_is_committed(
    persistent_broker: MqttServer, peer: Peer, exchange: Exchange, client_id: str
) -> None:
    """While the database is unavailable the message is retried, and a new listener gets it."""
    exchange.receive(TOPIC_INFO, sample("fixtures_info.json"))
    attempts: list[int] = []

    def database_down(messages: object) -> list[str]:
        attempts.append(1)
        raise Unavailable("database is down")

    address = BrokerAddress.from_url(persistent_broker.url)
    down = PahoListener(address, client_id, database_down).start()
    assert down.wait_subscribed(10)
    peer.send(TOPIC_REQUESTS, peer_request("survivor", quantity=3))
    wait_until(lambda: len(attempts) >= 2, what="a retry")
    down.stop()  # as if the process died: the message was never acknowledged

    counters = BrokerCounters()
    up = PahoListener(address, client_id, exchange.receive_many, on_count=counters.count).start()
    try:
        wait_until(lambda: status(exchange, "survivor") is not None, what="redelivery")
    finally:
        up.stop()
    assert status(exchange, "survivor") is PurchaseStatus.PENDING
    assert available(exchange, 1208083) == 37


MALFORMED = [
    (TOPIC_REQUESTS, "not json at all"),
    (TOPIC_REQUESTS, "[1, 2, 3]"),
    (TOPIC_REQUESTS, '{"request_id": "x"}'),
    (TOPIC_REQUESTS, peer_request("bad-quantity", quantity=0)),
    (TOPIC_REQUESTS, peer_request("bad-fixture").replace("1208083", '"abc"')),
    (TOPIC_REQUESTS, peer_request("bad-result").replace("Brentford", "Real Madrid")),
    (TOPIC_VALIDATION, '{"request_id": "x", "group_id": "6", "valid": "maybe"}'),
    (TOPIC_VALIDATION, '{"group_id": [], "valid": true}'),
    (TOPIC_INFO, '{"fixtures": [{"fixture": {"id": "abc"}}]}'),
    (TOPIC_INFO, '"\\"still not an object\\""'),
    (TOPIC_HISTORY, '{"fixtures": {"not": "a list"}}'),
    (TOPIC_HISTORY, '{"fixtures": [{"fixture": {"id": 1}}]}'),
    (TOPIC_VALIDATION, ""),
]


def test_a_thousand_malformed_messages_are_kept_and_the_next_valid_one_applies(
    start_listener: StartListener, peer: Peer, exchange: Exchange
) -> None:
    """Malformed messages of every kind are kept as dead letters; the listener goes on."""
    handle = start_listener()
    peer.send(TOPIC_INFO, sample("fixtures_info.json"))
    for n in range(1000):
        topic, payload = MALFORMED[n % len(MALFORMED)]
        # a unique suffix keeps each one a distinct message, not a duplicate
        peer.send(topic, payload + " " * (n // len(MALFORMED)))
    peer.send(TOPIC_REQUESTS, peer_request("valid-after-all", quantity=2))

    wait_until(settled(handle, 1002), timeout=60)
    counters = handle.counters.snapshot()
    assert (counters["malformed"], counters["applied"]) == (1000, 2)
    assert status(exchange, "valid-after-all") is PurchaseStatus.PENDING
    with exchange.uow() as uow:
        letters, total = uow.dead_letters.page(1, 1000)
    assert total == 1000
    assert {letter.topic for letter in letters} == {
        TOPIC_REQUESTS,
        TOPIC_VALIDATION,
        TOPIC_INFO,
        TOPIC_HISTORY,
    }
    assert all(letter.reason for letter in letters)


def test_jobs_follow_a_validation_of_ours_received_from_the_broker(
    start_listener: StartListener, peer: Peer, exchange: Exchange, jobs: InMemoryJobQueue
) -> None:
    """The course's verdict on our wallet purchase accepts it and queues its receipt."""
    handle = start_listener()
    peer.send(TOPIC_INFO, sample("fixtures_info.json"))
    wait_until(settled(handle, 1))
    exchange.top_up("alice", 10_000)
    bought = exchange.buy_bonds(BuyBonds("alice", 1208081, Outcome.HOME, 1, wallet=True))
    request_id = bought.purchase.request_id

    peer.send(TOPIC_VALIDATION, {"request_id": request_id, "group_id": "15", "valid": True})

    # the job is committed with the verdict, and relayed from the job outbox
    def relayed() -> bool:
        exchange.relay_jobs()
        return MakeReceipt(request_id) in jobs.enqueued

    wait_until(relayed)
    assert status(exchange, request_id) is PurchaseStatus.ACCEPTED


def test_a_message_that_trips_a_bug_is_set_aside_and_the_others_go_on(
    broker: MqttServer, peer: Peer, exchange: Exchange, client_id: str
) -> None:
    """An unexpected error on one message ends, after retries, in a dead letter, not a stall."""
    exchange.receive(TOPIC_INFO, sample("fixtures_info.json"))

    def buggy(messages: Sequence[tuple[str, bytes]]) -> Sequence[str]:
        if any(b"poison" in payload for _, payload in messages):
            raise KeyError("a bug")
        return exchange.receive_many(messages)

    counters = BrokerCounters()
    listener = PahoListener(
        BrokerAddress.from_url(broker.url),
        client_id,
        buggy,
        on_count=counters.count,
        on_poison=exchange.keep_dead_letter,
    ).start()
    try:
        assert listener.wait_subscribed(10)
        peer.send(TOPIC_REQUESTS, peer_request("before", quantity=1))
        peer.send(TOPIC_REQUESTS, peer_request("poison", quantity=1))
        peer.send(TOPIC_REQUESTS, peer_request("after", quantity=1))
        wait_until(lambda: status(exchange, "after") is not None, what="the message after")
    finally:
        listener.stop()
    assert status(exchange, "before") is PurchaseStatus.PENDING
    assert status(exchange, "poison") is None
    with exchange.uow() as uow:
        letters, total = uow.dead_letters.page(1, 10)
    assert total == 1
    assert "poison" in letters[0].payload
    assert "a bug" in letters[0].reason
