"""Another group's purchase that overtakes its fixture: parked, applied on arrival, bounded."""

from __future__ import annotations

import json
from typing import Any

from goat_core.model import PurchaseStatus
from goat_core.services import Handled
from goat_core.wire import TOPIC_REQUESTS
from tests.unit.support import KICKOFF, NOW, World, make_fixture, request_payload


def early_request(world: World, request_id: str = "peer-1", **fields: Any) -> str:
    """Send a peer's request for fixture 2 (not announced yet); the payload sent."""
    payload = json.dumps(request_payload(request_id, fixture_id=2, **fields))
    assert world.exchange.receive(TOPIC_REQUESTS, payload) == Handled.APPLIED
    return payload


def test_parked_request_is_applied_when_its_fixture_arrives(world: World) -> None:
    """A request parked for an unknown fixture reserves its bonds once fixtures/info brings it."""
    early_request(world, quantity=3, result="Chelsea")

    world.add_fixtures(make_fixture(2))

    purchase = world.purchase("peer-1")
    assert purchase.status is PurchaseStatus.PENDING
    assert (purchase.fixture_id, purchase.quantity, purchase.reserved) == (2, 3, 3)
    assert world.available(2) == 37
    assert world.store.dead_letters() == []


def test_parked_request_is_applied_once(world: World) -> None:
    """The fixture announced again, or the request redelivered, reserves nothing more."""
    payload = early_request(world, quantity=3)
    world.add_fixtures(make_fixture(2))

    world.add_fixtures(make_fixture(2, league_round="Regular Season - 13"))
    assert world.exchange.receive(TOPIC_REQUESTS, payload) == Handled.DUPLICATE
    assert world.peer_request("peer-1", fixture_id=2, quantity=3, group_id=6) == Handled.IGNORED

    assert world.available(2) == 37
    assert len(world.store.purchases()) == 1


def test_request_resent_while_parked_is_parked_once(world: World) -> None:
    """The same request id parked twice (other formatting) is applied once, as first sent."""
    early_request(world, quantity=3)
    early_request(world, quantity=3, group_id=6)

    world.add_fixtures(make_fixture(2))

    assert world.available(2) == 37


def test_validation_parked_before_a_parked_request_decides_it_on_arrival(world: World) -> None:
    """A verdict that overtakes a parked request decides it once the fixture arrives."""
    early_request(world, quantity=4)
    assert world.validate("peer-1", valid=False) == Handled.APPLIED

    world.add_fixtures(make_fixture(2))

    assert world.purchase("peer-1").status is PurchaseStatus.REJECTED
    assert world.available(2) == 40


def test_parked_request_for_a_fixture_already_sold_out_gets_what_is_left(world: World) -> None:
    """A parked request applies as it would have on arrival: it reserves only what is left."""
    early_request(world, "peer-1", quantity=30)
    early_request(world, "peer-2", quantity=30)

    world.clock.advance(seconds=1)
    world.add_fixtures(make_fixture(2))

    first, second = world.purchase("peer-1"), world.purchase("peer-2")
    assert (first.reserved, second.reserved) == (30, 10)
    assert world.available(2) == 0


def test_parked_request_for_a_fixture_already_started_is_applied(world: World) -> None:
    """A fixture that arrives already in play still gets the parked purchase, like a live one."""
    early_request(world, quantity=2)

    world.add_fixtures(make_fixture(2, kickoff=NOW, status="1H"))

    assert world.purchase("peer-1").reserved == 2
    assert world.available(2) == 38


def test_parked_request_with_a_result_of_neither_team_is_a_dead_letter(world: World) -> None:
    """Once its fixture is known, a parked request naming neither team is kept as malformed."""
    payload = early_request(world, result="Liverpool")

    assert world.add_fixtures(make_fixture(2)) == Handled.APPLIED

    (letter,) = world.store.dead_letters()
    assert (letter.topic, letter.payload) == (TOPIC_REQUESTS, payload)
    assert letter.reason.startswith("result:")
    assert world.available(2) == 40


def test_request_parked_longer_than_a_day_becomes_a_dead_letter_saying_why(
    world: World,
) -> None:
    """After 24 h without its fixture a parked request is a dead letter naming the fixture."""
    payload = early_request(world, quantity=2)
    world.clock.advance(hours=24, seconds=1)

    world.add_fixtures(make_fixture(3))
    world.add_fixtures(make_fixture(2, kickoff=KICKOFF))

    (letter,) = world.store.dead_letters()
    assert (letter.topic, letter.payload) == (TOPIC_REQUESTS, payload)
    assert "fixture 2" in letter.reason
    assert "24 h" in letter.reason
    assert world.store.purchases() == []
    assert world.available(2) == 40


def test_request_parked_less_than_a_day_is_still_applied(world: World) -> None:
    """Within the bound a parked request waits; its fixture's arrival still applies it."""
    early_request(world, quantity=2)
    world.clock.advance(hours=23)

    world.add_fixtures(make_fixture(2))

    assert world.purchase("peer-1").reserved == 2


def test_ingested_fixtures_apply_parked_requests(world: World) -> None:
    """Fixtures stored through ingest_fixtures also apply the requests waiting for them."""
    early_request(world, quantity=5)

    world.exchange.ingest_fixtures([make_fixture(2)])

    assert world.purchase("peer-1").reserved == 5


def test_an_applied_parked_request_is_dated_when_it_arrived(world: World) -> None:
    """The purchase recorded from a parked request keeps the time the request arrived."""
    early_request(world)
    world.clock.advance(hours=2)

    world.add_fixtures(make_fixture(2))

    assert world.purchase("peer-1").created_at == NOW
