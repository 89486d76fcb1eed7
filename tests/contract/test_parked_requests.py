"""The contract of ``ParkedRequests`` (peers' purchases waiting for their fixture), on every
backend."""

from __future__ import annotations

from datetime import timedelta

from goat_core.ports import ParkedRequest
from tests.contract.builders import NOW, fixture
from tests.contract.conftest import Backend


def parked(request_id: str, fixture_id: int, minutes: int = 0) -> ParkedRequest:
    return ParkedRequest(
        request_id,
        fixture_id,
        f'{{"request_id": "{request_id}"}}',
        NOW + timedelta(minutes=minutes),
    )


def test_first_parked_request_of_an_id_wins(backend: Backend) -> None:
    """park() keeps the first request of an id and answers False for later ones."""
    with backend.uow() as uow:
        uow.parked_requests.lock()
        assert uow.parked_requests.park(parked("r1", 7))
        assert not uow.parked_requests.park(ParkedRequest("r1", 8, "other", NOW))
        uow.commit()
    with backend.uow() as uow:
        assert not uow.parked_requests.park(ParkedRequest("r1", 8, "other", NOW))
        uow.fixtures.upsert_many([fixture(7), fixture(8)], 40, NOW)
        assert uow.parked_requests.take_arrived() == [parked("r1", 7)]


def test_take_arrived_returns_only_requests_whose_fixture_is_stored(backend: Backend) -> None:
    """take_arrived() removes and returns, oldest first, the requests of stored fixtures."""
    with backend.uow() as uow:
        uow.parked_requests.park(parked("late", 7, minutes=5))
        uow.parked_requests.park(parked("early", 7, minutes=1))
        uow.parked_requests.park(parked("other", 9))
        uow.commit()
    with backend.uow() as uow:
        assert uow.parked_requests.take_arrived() == []
        uow.fixtures.upsert_many([fixture(7)], 40, NOW)
        assert uow.parked_requests.take_arrived() == [parked("early", 7, 1), parked("late", 7, 5)]
        assert uow.parked_requests.take_arrived() == []
        uow.commit()
    with backend.uow() as uow:
        uow.fixtures.upsert_many([fixture(9)], 40, NOW)
        assert uow.parked_requests.take_arrived() == [parked("other", 9)]


def test_take_expired_returns_the_oldest_up_to_a_limit(backend: Backend) -> None:
    """take_expired() removes and returns requests parked before a time, oldest first, bounded."""
    with backend.uow() as uow:
        for minute in (3, 1, 2, 10):
            uow.parked_requests.park(parked(f"r{minute}", 7, minutes=minute))
        uow.commit()
    cutoff = NOW + timedelta(minutes=5)
    with backend.uow() as uow:
        assert uow.parked_requests.take_expired(cutoff, 2) == [
            parked("r1", 7, 1),
            parked("r2", 7, 2),
        ]
        uow.commit()
    with backend.uow() as uow:
        assert uow.parked_requests.take_expired(cutoff, 10) == [parked("r3", 7, 3)]
        assert uow.parked_requests.take_expired(cutoff, 10) == []
        uow.commit()
    with backend.uow() as uow:
        uow.fixtures.upsert_many([fixture(7)], 40, NOW)
        assert uow.parked_requests.take_arrived() == [parked("r10", 7, 10)]


def test_parked_requests_roll_back_with_their_unit_of_work(backend: Backend) -> None:
    """A request parked in a unit of work left without commit is not kept."""
    with backend.uow() as uow:
        uow.parked_requests.park(parked("r1", 7))
    with backend.uow() as uow:
        uow.fixtures.upsert_many([fixture(7)], 40, NOW)
        assert uow.parked_requests.take_arrived() == []
