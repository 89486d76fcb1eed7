"""A user's total of purchases follows every way a purchase is stored, on every backend.

PostgreSQL answers it from ``users.purchases`` (kept by a trigger, migration 0009), the
others count: each total is checked against the purchases after each change.
"""

from __future__ import annotations

import pytest

from goat_core.errors import NotEnoughBonds
from goat_core.model import LedgerKind
from tests.contract.builders import NOW, add_fixtures, add_purchases, fixture, purchase
from tests.contract.conftest import Backend
from tests.contract.test_sale_ledger import record, sale

USERS = ("alice", "bob", "carol")


def totals(backend: Backend, *users: str) -> dict[str, int]:
    with backend.uow() as uow:
        return {user: uow.purchases.page_for_user(user, None, 1, 1)[1] for user in users or USERS}


def test_totals_follow_lots_single_purchases_and_peers(backend: Backend) -> None:
    add_fixtures(backend, fixture(1), fixture(2), bonds=40)
    with backend.uow() as uow:  # the API registers every caller first
        for user in USERS:
            uow.users.get_or_create(user, None, None)
        uow.wallets.credit("alice", 10_000, LedgerKind.TOP_UP, None, NOW)
        uow.commit()
    assert totals(backend) == {"alice": 0, "bob": 0, "carol": 0}

    # a lot: two of alice's (wallet) and one of bob's (Webpay)
    record(backend, sale("r1"), sale("r2"), sale("r3", user_id="bob", by_wallet=False))
    assert totals(backend) == {"alice": 2, "bob": 1, "carol": 0}

    # one at a time (a group's bond, a repeat changes nothing) and other groups' purchases
    add_purchases(backend, purchase("r4", user_id="carol"))
    with backend.uow() as uow:
        assert not uow.purchases.add(purchase("r4", user_id="carol"))
        peers = [purchase(f"peer{i}", user_id=None, group_id="6") for i in range(3)]
        assert uow.purchases.add_many([*peers, purchase("r5", user_id="alice")]) == {
            "peer0", "peer1", "peer2", "r5"
        }  # fmt: skip
        uow.commit()
    assert totals(backend) == {"alice": 3, "bob": 1, "carol": 1}
    with backend.uow() as uow:  # past the last page: no rows, the same total
        assert uow.purchases.page_for_user("alice", None, 9, 25) == ([], 3)


def test_a_lot_rolled_back_leaves_the_totals(backend: Backend) -> None:
    add_fixtures(backend, fixture(1), bonds=4)
    with backend.uow() as uow:
        for user in USERS:
            uow.users.get_or_create(user, None, None)
        uow.commit()
    record(backend, sale("r1", by_wallet=False))
    with pytest.raises(NotEnoughBonds):  # 2 + 4 of 4 bonds: the lot falls short, all of it
        record(
            backend,
            sale("r2", by_wallet=False),
            sale("r3", user_id="bob", quantity=4, by_wallet=False),
        )
    assert totals(backend) == {"alice": 1, "bob": 0, "carol": 0}


def test_purchases_stored_before_their_user_count(backend: Backend) -> None:
    """Purchases of a user without a row (written by hand, or by another system) add up,
    before the user registers, after, and once they buy again."""
    add_fixtures(backend, fixture(1), bonds=40)
    add_purchases(backend, purchase("r1", user_id="dave"), purchase("r2", user_id="dave"))
    assert totals(backend, "dave") == {"dave": 2}
    with backend.uow() as uow:
        uow.users.get_or_create("dave", None, None)
        uow.commit()
    assert totals(backend, "dave") == {"dave": 2}
    record(backend, sale("r3", user_id="dave", by_wallet=False))
    assert totals(backend, "dave") == {"dave": 3}
