"""Wallets: top-ups and the ledger (PUT /users/wallet)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goat_core.errors import InvalidInput
from goat_core.model import LedgerKind, Outcome
from tests.unit.support import USER, World, make_fixture


def test_top_up_adds_and_returns_the_balance(world: World) -> None:
    """A top-up credits the wallet, records a ledger entry and returns the new balance."""
    assert world.fund(USER, 1500) == 1500
    assert world.fund(USER, 500) == 2000

    assert [(e.kind, e.amount) for e in world.ledger(USER)] == [
        (LedgerKind.TOP_UP, 1500),
        (LedgerKind.TOP_UP, 500),
    ]


@pytest.mark.parametrize("amount", [0, -1, -1000])
def test_top_up_must_be_positive(world: World, amount: int) -> None:
    """A top-up of zero or less raises InvalidInput naming "amount" and changes nothing."""
    before = world.snapshot()

    with pytest.raises(InvalidInput) as raised:
        world.fund(USER, amount)

    assert raised.value.field == "amount"
    assert world.snapshot() == before


def test_top_up_creates_the_user(world: World) -> None:
    """Topping up an unknown user creates them with that balance."""
    world.fund("auth0|new", 700)

    assert world.balance("auth0|new") == 700


@given(
    moves=st.lists(
        st.tuples(st.sampled_from(["top_up", "buy", "reject"]), st.integers(1, 5)), max_size=15
    )
)
def test_ledger_sums_to_balance(moves: list[tuple[str, int]]) -> None:
    """After any mix of top-ups, purchases and refunds the ledger sums to the balance."""
    world = World()
    world.add_fixtures(make_fixture(1))
    bought: list[str] = []
    for move, n in moves:
        if move == "top_up":
            world.fund(USER, n * 700)
        elif move == "buy" and world.balance(USER) >= n * 1000 and world.available(1) >= n:
            bought.append(world.buy(USER, 1, Outcome.HOME, n).purchase.request_id)
        elif move == "reject" and bought:
            world.validate(bought.pop(0), False)

    assert sum(e.amount for e in world.ledger(USER)) == world.balance(USER) >= 0
