"""``Exchange.receive_many`` on the real database: one transaction, the answers of ``receive``."""

from __future__ import annotations

import json
import sqlite3

import pytest

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    ManualClock,
    SequentialIds,
)
from goat_adapters.sql import SqlDatabase
from goat_core.errors import Busy
from goat_core.model import PurchaseStatus
from goat_core.services import Exchange
from goat_core.wire import TOPIC_INFO, TOPIC_REQUESTS, TOPIC_VALIDATION
from tests.integration.mqtt.support import sample
from tests.integration.mqtt.test_listener import available, peer_request, status

pytestmark = pytest.mark.integration


def verdict(request_id: str, valid: bool) -> str:
    return json.dumps({"request_id": request_id, "group_id": "6", "valid": valid})


def test_a_lot_answers_each_message_as_receive_would(exchange: Exchange) -> None:
    """In one lot: a repeat is a duplicate, a verdict before its request is applied with it."""
    outcomes = exchange.receive_many(
        [
            (TOPIC_INFO, sample("fixtures_info.json")),
            (TOPIC_VALIDATION, verdict("early", valid=True)),
            (TOPIC_REQUESTS, peer_request("early", quantity=2)),
            (TOPIC_REQUESTS, peer_request("early", quantity=2)),
            (TOPIC_REQUESTS, peer_request("other", quantity=3)),
        ]
    )

    assert outcomes == ["applied", "applied", "applied", "duplicate", "applied"]
    assert status(exchange, "early") is PurchaseStatus.ACCEPTED
    assert available(exchange, 1208083) == 35


def test_a_message_with_a_nul_byte_is_kept(exchange: Exchange, database: SqlDatabase) -> None:
    """PostgreSQL's text holds no NUL: such a message is still answered malformed and kept
    (the NUL shown as U+FFFD), alone or in a lot, so the listener goes on."""
    answers = [
        exchange.receive(TOPIC_REQUESTS, b'{"request_id": "\x00"'),
        *exchange.receive_many([(TOPIC_REQUESTS, b"\x00"), (TOPIC_REQUESTS, b"\x00!")]),
    ]

    assert answers == ["malformed"] * 3
    with database.unit_of_work() as uow:
        kept, total = uow.dead_letters.page(1, 10)
    assert total == 3
    assert {letter.payload for letter in kept} == {'{"request_id": "\ufffd"', "\ufffd", "\ufffd!"}


def test_a_request_its_purchase_cannot_hold_is_malformed_before_it_is_parked(
    exchange: Exchange, database: SqlDatabase
) -> None:
    """A request for a fixture not announced yet is parked, and written with the fixture's
    transaction when it comes: a field its column cannot hold is refused on arrival, so
    the fixture's transaction never fails for it."""
    too_long = json.loads(peer_request("long")) | {"league_name": "L" * 201}
    assert exchange.receive(TOPIC_REQUESTS, json.dumps(too_long)) == "malformed"

    assert exchange.receive(TOPIC_INFO, sample("fixtures_info.json")) == "applied"
    assert available(exchange, 1208083) == 40
    with database.unit_of_work() as uow:
        assert uow.purchases.get("long") is None


def test_a_malformed_message_does_not_take_its_lot_down(exchange: Exchange) -> None:
    """A lot with a bad message falls back to one by one: the good ones apply, the bad is
    kept, and a request for a fixture not announced yet is parked, not called malformed."""
    exchange.receive(TOPIC_INFO, sample("fixtures_info.json"))

    outcomes = exchange.receive_many(
        [
            (TOPIC_REQUESTS, peer_request("good-1")),
            (TOPIC_REQUESTS, peer_request("bad").replace("1208083", '"4040x"')),
            (TOPIC_REQUESTS, peer_request("early", fixture_id=4040)),
            (TOPIC_REQUESTS, peer_request("good-2")),
        ]
    )

    assert outcomes == ["applied", "malformed", "applied", "applied"]
    assert available(exchange, 1208083) == 38
    with exchange.uow() as uow:
        letters, total = uow.dead_letters.page(1, 10)
        assert uow.purchases.get("early") is None
    assert total == 1
    assert letters[0].reason.startswith("fixture_id")


def test_a_locked_database_leaves_the_whole_lot_unapplied(sqlite_url: str) -> None:
    """While another writer holds the database, the lot raises Busy and none of it applies."""
    database = SqlDatabase(sqlite_url, lock_timeout_ms=100)
    exchange = Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=InMemoryJobQueue(),
        clock=ManualClock(),
        ids=SequentialIds(),
    )
    exchange.receive(TOPIC_INFO, sample("fixtures_info.json"))
    lot = [(TOPIC_REQUESTS, peer_request(f"lot-{n}")) for n in range(3)]
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        with pytest.raises(Busy):
            exchange.receive_many(lot)
        other.execute("ROLLBACK")

        assert all(status(exchange, f"lot-{n}") is None for n in range(3))
        assert exchange.receive_many(lot) == ["applied"] * 3
    finally:
        other.close()
        database.dispose()


def test_a_run_of_requests_applies_as_one_by_one(exchange: Exchange) -> None:
    """Requests applied together share a fixture's bonds in their order, a verdict parked
    for one of them gives its bonds back before the next reserves, and repeats, our own
    group's and an unknown fixture's requests are answered as one by one."""
    exchange.receive(TOPIC_INFO, sample("fixtures_info.json"))
    exchange.receive(TOPIC_VALIDATION, verdict("r2", valid=False))
    first = peer_request("r1", quantity=30)
    ours = json.loads(peer_request("r5"))
    ours["group_id"] = "15"

    outcomes = exchange.receive_many(
        [
            (TOPIC_REQUESTS, first),
            (TOPIC_REQUESTS, peer_request("r2", quantity=10)),
            (TOPIC_REQUESTS, peer_request("r3", quantity=15)),
            (TOPIC_REQUESTS, peer_request("r1", quantity=2)),
            (TOPIC_REQUESTS, peer_request("r4", fixture_id=4040)),
            (TOPIC_REQUESTS, json.dumps(ours)),
            (TOPIC_REQUESTS, first),
        ]
    )

    assert outcomes == [
        "applied",
        "applied",
        "applied",
        "ignored",
        "applied",
        "ignored",
        "duplicate",
    ]
    assert status(exchange, "r2") is PurchaseStatus.REJECTED
    with exchange.uow() as uow:
        reserved = {rid: p.reserved for rid in ("r1", "r3") if (p := uow.purchases.get(rid))}
        assert uow.purchases.get("r4") is None  # parked for its fixture
        assert uow.purchases.get("r5") is None
    assert reserved == {"r1": 30, "r3": 10}
    assert available(exchange, 1208083) == 0
