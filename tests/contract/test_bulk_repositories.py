"""The contract of the repositories' bulk methods (a run of peers' requests), on every backend."""

from __future__ import annotations

import attrs

from goat_core.model import ValidationMessage
from tests.contract.builders import NOW, add_fixtures, add_purchases, available, fixture, purchase
from tests.contract.conftest import Backend


def test_remember_many_answers_the_new_keys(backend: Backend) -> None:
    """remember_many() records every key and answers those not seen before."""
    with backend.uow() as uow:
        assert uow.inbox.remember("k1")
        assert uow.inbox.remember_many(["k1", "k2", "k3"]) == {"k2", "k3"}
        assert uow.inbox.remember_many([]) == set()
        uow.commit()
    with backend.uow() as uow:
        assert not uow.inbox.remember("k3")


def test_lock_many_answers_the_ids_that_have_a_purchase(backend: Backend) -> None:
    """lock_many() locks the ids (known or not) and answers those with a purchase."""
    add_purchases(backend, purchase("r1"), purchase("r2"))
    with backend.uow() as uow:
        assert uow.purchases.lock_many(["r2", "nope", "r1"]) == {"r1", "r2"}
        assert uow.purchases.lock_many([]) == set()


def test_known_answers_the_ids_that_have_a_purchase(backend: Backend) -> None:
    """known() answers those of the ids with a purchase, in or out of a transaction."""
    add_purchases(backend, purchase("r1"), purchase("r2"))
    with backend.uow() as uow:
        assert uow.purchases.known(["r2", "nope", "r1"]) == {"r1", "r2"}
        assert uow.purchases.known([]) == set()
        assert uow.purchases.add(purchase("r3"))
        assert uow.purchases.known({"r3"}) == {"r3"}  # this transaction's own purchase


def test_add_many_inserts_the_new_and_answers_them(backend: Backend) -> None:
    """add_many() stores every field of the new purchases and leaves known ones as they are."""
    add_purchases(backend, purchase("r1"))
    fresh = purchase("r2", deposit_token="tok-2")
    with backend.uow() as uow:
        assert uow.purchases.add_many([attrs.evolve(purchase("r1"), quantity=9), fresh]) == {"r2"}
        assert uow.purchases.add_many([]) == set()
        uow.commit()
    with backend.uow() as uow:
        assert uow.purchases.get("r2") == fresh
        assert uow.purchases.get("r1") == purchase("r1")


def test_reserve_many_takes_what_is_left_of_each(backend: Backend) -> None:
    """reserve_many() takes each fixture's wanted bonds, or what is left; unknown ones are
    left out."""
    add_fixtures(backend, fixture(1), fixture(2))
    with backend.uow() as uow:
        assert uow.fixtures.reserve(2, 35) == 35
        assert uow.fixtures.reserve_many({2: 10, 1: 3, 99: 1}) == {1: 3, 2: 5}
        uow.commit()
    assert (available(backend, 1), available(backend, 2)) == (37, 0)


def test_take_many_removes_the_parked_validations_once(backend: Backend) -> None:
    """take_many() returns the validations parked for the ids, by id, and only once."""
    verdict = ValidationMessage("r1", "6", valid=True, seller=0)
    with backend.uow() as uow:
        uow.parked.park(verdict, NOW)
        uow.commit()
    with backend.uow() as uow:
        assert uow.parked.take_many(["r1", "r2"]) == {"r1": verdict}
        assert uow.parked.take_many(["r1"]) == {}
