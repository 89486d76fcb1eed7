"""Messages from the broker: other groups' purchases, our echoes, duplicates, dead letters."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goat_core.model import Outcome, PurchaseStatus
from goat_core.services import Handled
from goat_core.wire import (
    TOPIC_AUCTIONS,
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_REQUESTS,
    TOPIC_VALIDATION,
)
from tests import strategies
from tests.unit.support import USER, World, make_fixture, request_payload, sample_text


def test_peer_purchase_reserves_what_it_asks(world: World) -> None:
    """Another group's purchase reserves its bonds here and is recorded pending."""
    assert world.peer_request("peer-1", quantity=5, result="Chelsea", group_id=6) == Handled.APPLIED

    purchase = world.purchase("peer-1")
    assert purchase.status is PurchaseStatus.PENDING
    assert (purchase.group_id, purchase.result) == ("6", Outcome.AWAY)
    assert (purchase.quantity, purchase.reserved) == (5, 5)
    assert purchase.user_id is None
    assert world.available(1) == 35


@pytest.mark.parametrize(
    ("wire", "outcome"),
    [("Arsenal", Outcome.HOME), ("---", Outcome.DRAW), ("away", Outcome.AWAY)],
)
def test_peer_result_is_resolved_against_the_fixture(
    world: World, wire: str, outcome: Outcome
) -> None:
    """A peer's result given as team name, "---" or a side is stored as the outcome."""
    world.peer_request("peer-1", result=wire)

    assert world.purchase("peer-1").result is outcome


def test_peer_purchase_larger_than_what_is_left_is_partial(world: World) -> None:
    """When fewer bonds are left than a peer asks, it gets those and availability stays 0."""
    world.peer_request("peer-1", quantity=38)

    world.peer_request("peer-2", quantity=5)

    partial = world.purchase("peer-2")
    assert (partial.quantity, partial.reserved) == (5, 2)
    assert world.available(1) == 0

    world.peer_request("peer-3", quantity=1)

    assert world.purchase("peer-3").reserved == 0
    assert world.available(1) == 0


def test_peer_request_twice_changes_nothing(world: World) -> None:
    """The same request delivered twice is a duplicate and reserves only once."""
    payload = json.dumps(request_payload("peer-1", quantity=3))
    assert world.exchange.receive(TOPIC_REQUESTS, payload) == Handled.APPLIED
    before = world.snapshot()

    assert world.exchange.receive(TOPIC_REQUESTS, payload) == Handled.DUPLICATE

    assert world.snapshot() == before
    assert world.available(1) == 37


def test_peer_request_resent_differently_changes_nothing(world: World) -> None:
    """A request id seen before, re-sent with other formatting, is ignored."""
    world.peer_request("peer-1", quantity=3, group_id="6")
    before = world.snapshot()

    assert world.peer_request("peer-1", quantity=3, group_id=6) == Handled.IGNORED

    assert world.snapshot() == before


def test_our_own_echo_changes_nothing(world: World) -> None:
    """Our request coming back from the broker is recognised and changes nothing."""
    world.fund(USER, 1000)
    world.buy(USER, 1, Outcome.HOME, 1)
    (message,) = world.store.outbox_messages()
    before = world.snapshot()

    assert world.exchange.receive(TOPIC_REQUESTS, message.payload) == Handled.IGNORED

    assert world.snapshot() == before


def test_our_own_echo_is_not_remembered(world: World) -> None:
    """Our echo is looked up, not remembered: each delivery answers "ignored", never
    "duplicate", alone or in a lot beside another group's request."""
    world.fund(USER, 1000)
    world.buy(USER, 1, Outcome.HOME, 1)
    (message,) = world.store.outbox_messages()
    peer = json.dumps(request_payload("peer-1", quantity=3))

    assert world.exchange.receive(TOPIC_REQUESTS, message.payload) == Handled.IGNORED
    assert world.exchange.receive_many(
        [(TOPIC_REQUESTS, message.payload), (TOPIC_REQUESTS, peer)]
    ) == [Handled.IGNORED, Handled.APPLIED]
    assert world.available(1) == 36


def test_unknown_request_claiming_our_group_changes_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A request in our group's name that we never made reserves nothing, with a warning."""
    assert world.peer_request("forged", group_id="15", quantity=4) == Handled.IGNORED

    assert world.store.purchases() == []
    assert world.available(1) == 40
    assert "request forged claims our group but is not ours" in caplog.text
    caplog.clear()
    forged = json.dumps(request_payload("forged-2", group_id="15", quantity=4))
    peer = json.dumps(request_payload("peer-1", quantity=3))
    assert world.exchange.receive_many([(TOPIC_REQUESTS, forged), (TOPIC_REQUESTS, peer)]) == [
        Handled.IGNORED,
        Handled.APPLIED,
    ]
    assert "request forged-2 claims our group but is not ours" in caplog.text


def test_request_for_unknown_fixture_is_parked_not_malformed(world: World) -> None:
    """A request on a fixture not announced yet is parked: no dead letter, no purchase yet."""
    payload = json.dumps(request_payload("peer-1", fixture_id=999))

    assert world.exchange.receive(TOPIC_REQUESTS, payload) == Handled.APPLIED

    assert world.store.dead_letters() == []
    assert world.store.purchases() == []


def test_request_with_unresolvable_result_is_a_dead_letter(world: World) -> None:
    """A result naming neither team nor a side is kept as malformed, reserving nothing."""
    assert world.peer_request("peer-1", result="Liverpool") == Handled.MALFORMED

    (letter,) = world.store.dead_letters()
    assert letter.reason.startswith("result:")
    assert world.available(1) == 40


@pytest.mark.parametrize(
    "topic", [TOPIC_INFO, TOPIC_REQUESTS, TOPIC_VALIDATION, TOPIC_HISTORY, "fixtures/other"]
)
def test_malformed_payload_is_kept_and_reported(world: World, topic: str) -> None:
    """Garbage on any topic is answered "malformed" and kept with its topic and reason."""
    before = world.snapshot()

    assert world.exchange.receive(topic, b"{not json") == Handled.MALFORMED

    (letter,) = world.store.dead_letters()
    assert (letter.topic, letter.payload) == (topic, "{not json")
    assert letter.reason
    assert world.snapshot() == before


def test_malformed_field_is_named_in_the_dead_letter(world: World) -> None:
    """The dead letter's reason names the offending field."""
    payload = json.dumps(request_payload("peer-1") | {"quantity": 0})

    world.exchange.receive(TOPIC_REQUESTS, payload)

    assert world.store.dead_letters()[0].reason.startswith("quantity:")


def test_fixtures_info_sample_is_applied_from_bytes_and_string() -> None:
    """fixtures/info as a JSON object and as a JSON string both store the fixtures."""
    world = World()

    assert world.exchange.receive(TOPIC_INFO, sample_text("fixtures_info.json").encode()) == (
        Handled.APPLIED
    )
    assert world.exchange.receive(TOPIC_INFO, sample_text("fixtures_info_as_string.json")) == (
        Handled.APPLIED
    )

    assert len(world.store.fixtures()) == 10
    assert {f.available_bonds for f in world.store.fixtures()} == {40}


def test_fixture_update_keeps_availability(world: World) -> None:
    """A new fixtures/info for a known fixture updates it without touching its bonds."""
    world.peer_request("peer-1", quantity=4)

    world.add_fixtures(make_fixture(1, home="Arsenal FC"))

    assert world.fixture(1).home.name == "Arsenal FC"
    assert world.available(1) == 36


def test_same_payload_twice_is_duplicate(world: World) -> None:
    """receive() answers "duplicate" to a payload it already applied on that topic."""
    payload = sample_text("fixtures_info.json")

    assert world.exchange.receive(TOPIC_INFO, payload) == Handled.APPLIED
    assert world.exchange.receive(TOPIC_INFO, payload.encode()) == Handled.DUPLICATE


def test_auctions_are_stored_as_received(world: World) -> None:
    """A fixtures/auctions message is stored verbatim (and applied: see test_auctions.py)."""
    payload = (
        '{"auction_id": "a1", "proposal_id": "", "fixture_id": 1, "league_name": "PL",'
        ' "round": "1", "result": "Arsenal", "quantity": 2, "group_id": 6, "type": "offer"}'
    )

    assert world.exchange.receive(TOPIC_AUCTIONS, payload) == Handled.APPLIED

    assert world.store.auctions() == [payload]


def test_deeply_nested_payload_is_malformed_not_a_crash(world: World) -> None:
    """A JSON document nested deeper than the parser's recursion limit is kept as malformed."""
    payload = "[" * 100_000 + "]" * 100_000

    assert world.exchange.receive(TOPIC_REQUESTS, payload) == Handled.MALFORMED

    assert world.store.dead_letters()[0].topic == TOPIC_REQUESTS


def test_undecodable_bytes_are_malformed(world: World) -> None:
    """A payload that is not UTF-8 is kept as malformed."""
    assert world.exchange.receive(TOPIC_VALIDATION, b"\xff\xfe\x00") == Handled.MALFORMED


@settings(max_examples=150, deadline=None)
@given(
    topic=st.sampled_from(
        [TOPIC_INFO, TOPIC_REQUESTS, TOPIC_VALIDATION, TOPIC_HISTORY, TOPIC_AUCTIONS]
    ),
    document=strategies.json_values(),
    as_string=st.booleans(),
)
def test_any_payload_gets_one_of_the_four_answers(
    topic: str, document: object, as_string: bool
) -> None:
    """Whatever JSON arrives on a topic, receive() answers and never raises or breaks bonds."""
    world = World()
    world.add_fixtures(make_fixture(1))
    payload = json.dumps(document)
    if as_string:
        payload = json.dumps(payload)

    answer = world.exchange.receive(topic, payload)

    assert answer in {Handled.APPLIED, Handled.IGNORED, Handled.MALFORMED}
    assert world.exchange.receive(topic, payload) in {Handled.DUPLICATE, Handled.MALFORMED}
    assert 0 <= world.available(1) <= 40


def test_a_final_result_that_pays_wakes_the_job_relay(world: World) -> None:
    """Settling queues jobs (a recompute, an email): the relay is told after the commit, as
    it is for a verdict, and finds them."""
    relayed: list[int] = []
    world.exchange.on_jobs_queued(lambda: relayed.append(len(world.relay_jobs())))
    world.fund(USER, 1000)
    bought = world.buy(USER)
    world.validate(bought.purchase.request_id, True, "15")
    relayed.clear()

    assert world.result(1, "FT", 2, 0) == Handled.APPLIED

    assert len(relayed) == 1
    assert relayed[0] > 0


def test_receive_many_applies_a_batch_like_one_by_one(world: World) -> None:
    """A batch of messages is answered as receive() would answer each, in order."""
    request = json.dumps(request_payload("peer-1", quantity=2))
    validation = json.dumps({"request_id": "peer-1", "group_id": "6", "valid": False})

    answers = world.exchange.receive_many(
        [(TOPIC_REQUESTS, request), (TOPIC_VALIDATION, validation), (TOPIC_REQUESTS, request)]
    )

    assert answers == [Handled.APPLIED, Handled.APPLIED, Handled.DUPLICATE]
    assert world.purchase("peer-1").status is PurchaseStatus.REJECTED
    assert world.available(1) == 40


def test_a_malformed_message_delivered_again_is_kept_once(world: World) -> None:
    """The broker may deliver a message twice (and the listener retries a lot stopped by
    a busy database): the malformed one is answered so each time, and kept once."""
    answers = [
        world.exchange.receive(TOPIC_REQUESTS, "{oops"),
        *world.exchange.receive_many([(TOPIC_REQUESTS, "{oops"), (TOPIC_REQUESTS, "{oops")]),
    ]
    world.exchange.keep_dead_letter(TOPIC_REQUESTS, "{oops", "poison")

    assert answers == [Handled.MALFORMED] * 3
    assert [(d.topic, d.payload) for d in world.store.dead_letters()] == [(TOPIC_REQUESTS, "{oops")]
    world.exchange.receive(TOPIC_VALIDATION, "{oops")  # the same text on another topic
    assert len(world.store.dead_letters()) == 2


def test_receive_many_keeps_good_messages_beside_a_bad_one(world: World) -> None:
    """One malformed message in a batch is dead-lettered; the others are still applied."""
    good = json.dumps(request_payload("peer-1", quantity=2))

    answers = world.exchange.receive_many([(TOPIC_REQUESTS, good), (TOPIC_REQUESTS, "{oops")])

    assert answers == [Handled.APPLIED, Handled.MALFORMED]
    assert world.available(1) == 38
    assert len(world.store.dead_letters()) == 1
