"""No concurrency sells a lot beyond its quantity, overdraws a wallet, trades or pays a lot
twice or leaves one unpaid (CONTRACT §4b).

For the sales: two real OS processes, each an exchange with its own engine on one
PostgreSQL database, release their buyer threads together (a barrier across the
processes, then one inside each), as two API processes serving a rush on the same lot
would. For trades and results: one transaction is kept open while the racing call runs
into it, so each interleaving is the one that used to go wrong.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

import pytest
import sqlalchemy as sa

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    ManualClock,
    SequentialIds,
)
from goat_adapters.sql import SqlDatabase
from goat_adapters.sql import tables as t
from goat_adapters.sql.inventory import SqlInventory
from goat_core.errors import Conflict, FixtureStarted
from goat_core.inventory import AccountKind, AuctionState, LotStatus, ProposalState
from goat_core.model import MatchState, Outcome, Rules, Viewer
from goat_core.ports import UnitOfWork
from goat_core.services import BuyBonds, Exchange, Handled
from goat_core.services.settlement import record_results
from goat_core.wire import TOPIC_AUCTIONS, TOPIC_VALIDATION
from tests.contract.builders import NOW, fixture

pytestmark = pytest.mark.integration

ADMIN = Viewer("auth0|admin", admin=True)
PROCESSES = 2


def _exchange(database: SqlDatabase, prefix: str) -> Exchange:
    return Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=InMemoryJobQueue(),
        clock=ManualClock(NOW),
        ids=_PrefixedIds(prefix),
        rules=Rules(group_id="15"),
    )


class _PrefixedIds(SequentialIds):
    """Sequential ids that differ between processes."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def new_id(self) -> str:
        return f"{self._prefix}-{super().new_id()}"


def _naive_take(
    self: SqlInventory, lot_id: str, quantity: int, statuses: Collection[LotStatus]
) -> bool:
    """The control: read the lot's quantity, then write what is left (not conditional)."""
    lots = t.lots.c
    row = self._tx.execute(sa.select(lots.quantity).where(lots.id == lot_id)).first()
    if row is None or row.quantity < quantity:
        return False
    time.sleep(0.005)  # the gap between the read and the write, a little wider
    left = row.quantity - quantity
    self._tx.execute(sa.update(t.lots).where(lots.id == lot_id).values(quantity=left))
    return True


def _buyers(
    url: str,
    process: int,
    users: list[str],
    lot: str,
    quantity: int,
    start: Any,
    results: Any,
    naive: bool = False,
) -> None:
    """One API process: its buyers all try at once, after every process is ready."""
    if naive:
        SqlInventory.take = _naive_take  # type: ignore[method-assign]  # the control run
    database = SqlDatabase(url, lock_timeout_ms=30_000, pool_size=len(users), max_overflow=0)
    exchange = _exchange(database, f"p{process}")
    barrier = threading.Barrier(len(users))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def buy(user: str) -> None:
        barrier.wait()
        try:
            exchange.buy_from_lot(user, lot, quantity)
            outcome = "ok"
        except Exception as error:  # every failure is counted by its type
            outcome = type(error).__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=buy, args=(user,)) for user in users]
    start.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    database.dispose()
    results.put(dict(outcomes))


def _stock(url: str, bonds: int, buyers: dict[str, int]) -> str:
    """A lot of ``bonds`` on sale at 20 % off, and the buyers' wallets funded."""
    database = SqlDatabase(url)
    exchange = _exchange(database, "setup")
    exchange.ingest_fixtures([fixture(1)])
    exchange.top_up(ADMIN.user_id, bonds * 1000)
    bought = exchange.buy_bonds(
        BuyBonds(ADMIN.user_id, 1, Outcome.HOME, bonds, wallet=True, seller=15, admin=True)
    )
    verdict = {"request_id": bought.purchase.request_id, "group_id": 1, "valid": True}
    exchange.receive(TOPIC_VALIDATION, json.dumps(verdict))
    [lot] = exchange.group_inventory(ADMIN)
    exchange.update_lot(ADMIN, lot.lot.id, on_sale=True, discount=20)
    for user, amount in buyers.items():
        exchange.top_up(user, amount)
    database.dispose()
    return lot.lot.id


def _race(
    url: str, users: list[str], lot: str, quantity: int, *, naive: bool = False
) -> Counter[str]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    share = [users[i::PROCESSES] for i in range(PROCESSES)]
    processes = [
        context.Process(
            target=_buyers, args=(url, i, share[i], lot, quantity, start, results, naive)
        )
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes: Counter[str] = Counter()
    for _ in processes:
        outcomes.update(results.get(timeout=180))
    for process in processes:
        process.join(timeout=60)
    return outcomes


def _scalar(url: str, query: sa.Select[Any]) -> Any:
    database = SqlDatabase(url)
    try:
        with database.engine.connect() as connection:
            return connection.execute(query).scalar_one()
    finally:
        database.dispose()


def test_fifty_buyers_over_two_processes_buy_exactly_a_lot_of_ten(fresh_database_url: str) -> None:
    """50 users buying one bond each from a lot of 10 at once, over two processes, buy 10."""
    users = [f"user-{i}" for i in range(50)]
    lot = _stock(fresh_database_url, 10, {user: 800 for user in users})

    outcomes = _race(fresh_database_url, users, lot, 1)

    assert outcomes == Counter({"ok": 10, "LotTooSmall": 40}), outcomes
    lots = t.lots.c
    assert _scalar(fresh_database_url, sa.select(lots.quantity).where(lots.id == lot)) == 0
    sold = sa.select(sa.func.count()).where(t.purchases.c.reserved == 0)
    assert _scalar(fresh_database_url, sold) == 10
    wallets = sa.select(sa.func.sum(t.users.c.wallet)).where(t.users.c.id.like("user-%"))
    assert _scalar(fresh_database_url, wallets) == 40 * 800
    account = sa.select(sa.func.sum(t.group_account.c.amount))
    assert _scalar(fresh_database_url, account) == 10 * 800


def test_the_harness_catches_a_naive_lot_that_oversells(fresh_database_url: str) -> None:
    """Control: a lot decremented by read-then-write sells more than it holds here."""
    users = [f"user-{i}" for i in range(50)]
    lot = _stock(fresh_database_url, 10, {user: 800 for user in users})

    outcomes = _race(fresh_database_url, users, lot, 1, naive=True)

    assert outcomes["ok"] > 10, outcomes


def test_one_wallet_over_two_processes_is_never_overdrawn(fresh_database_url: str) -> None:
    """One buyer's 20 simultaneous purchases over two processes take only what the wallet holds."""
    lot = _stock(fresh_database_url, 40, {"alice": 3 * 800})

    outcomes = _race(fresh_database_url, ["alice"] * 20, lot, 1)

    assert outcomes == Counter({"ok": 3, "NotEnoughMoney": 17}), outcomes
    users = t.users.c
    assert _scalar(fresh_database_url, sa.select(users.wallet).where(users.id == "alice")) == 0
    lots = t.lots.c
    assert _scalar(fresh_database_url, sa.select(lots.quantity).where(lots.id == lot)) == 37


def test_one_of_many_simultaneous_acceptances_wins(fresh_database_url: str) -> None:
    """Admins accepting different proposals of one auction at once: exactly one swap."""
    lot = _stock(fresh_database_url, 10, {})
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=30_000, pool_size=12)
    exchange = _exchange(database, "race")
    offer = exchange.offer_bonds(ADMIN, lot, 4)
    for i in range(10):
        proposal = {
            "auction_id": offer.auction_id,
            "proposal_id": f"p-{i}",
            "fixture_id": 1,
            "league_name": "PL",
            "round": "R",
            "result": "---",
            "quantity": 1 + i % 3,
            "group_id": 30 + i,
            "type": "proposal",
        }
        exchange.receive("fixtures/auctions", json.dumps(proposal))
    barrier = threading.Barrier(10)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def accept(i: int) -> None:
        barrier.wait()
        try:
            exchange.accept_proposal(ADMIN, f"p-{i}")
            outcome = "ok"
        except Exception as error:  # every failure is counted by its type
            outcome = type(error).__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes == Counter({"ok": 1, "Conflict": 9}), outcomes
    states = Counter(p.state.value for p in exchange.received_proposals(ADMIN))
    assert states == Counter({"accepted": 1, "rejected": 9})
    swaps = sa.select(sa.func.count()).where(t.lots.c.source.like("swap:%"))
    assert _scalar(fresh_database_url, swaps) == 1
    database.dispose()


def test_proposals_arriving_while_we_accept_are_all_answered(fresh_database_url: str) -> None:
    """Proposals received while the admin accepts another end rejected, none left pending."""
    lot = _stock(fresh_database_url, 10, {})
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=30_000, pool_size=12)
    exchange = _exchange(database, "race")
    offer = exchange.offer_bonds(ADMIN, lot, 4)

    def proposal(i: int) -> str:
        body = {
            "auction_id": offer.auction_id,
            "proposal_id": f"p-{i}",
            "fixture_id": 1,
            "league_name": "PL",
            "round": "R",
            "result": "---",
            "quantity": 1,
            "group_id": 30 + i,
            "type": "proposal",
        }
        return json.dumps(body)

    exchange.receive("fixtures/auctions", proposal(0))
    barrier = threading.Barrier(11)

    def act(i: int) -> None:
        barrier.wait()
        if i == 0:
            exchange.accept_proposal(ADMIN, "p-0")
        else:
            exchange.receive("fixtures/auctions", proposal(i))

    threads = [threading.Thread(target=act, args=(i,)) for i in range(11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    states = Counter(p.state.value for p in exchange.received_proposals(ADMIN))
    assert states == Counter({"accepted": 1, "rejected": 10}), states
    database.dispose()


# -- a trade, a group purchase or an answer racing a final result or another answer --------

WIN = 1850  # one home bond of fixture 1 when Arsenal win (odd 1.85)


def _held_open(database: SqlDatabase, work: Callable[[UnitOfWork], object]) -> threading.Thread:
    """Run ``work`` in a transaction kept open a moment after it, while the test acts."""
    ready = threading.Event()

    def run() -> None:
        with database.unit_of_work() as uow:
            work(uow)
            ready.set()
            time.sleep(1.0)  # the racing call runs meanwhile, up to its first lock
            uow.commit()

    thread = threading.Thread(target=run)
    thread.start()
    ready.wait(timeout=30)
    return thread


def _final_result(uow: UnitOfWork) -> None:
    record_results(uow, [MatchState(1, "FT", None, 90, 2, 0)], Rules(group_id="15"), NOW)


def _payouts(exchange: Exchange) -> int:
    _, entries = exchange.group_account(ADMIN)
    return sum(e.amount for e in entries if e.kind is AccountKind.PAYOUT)


def _auction_message(kind: str, auction: str, proposal: str, group: int, quantity: int) -> str:
    body = {
        "auction_id": auction,
        "proposal_id": proposal,
        "fixture_id": 1,
        "league_name": "PL",
        "round": "R",
        "result": "Arsenal",
        "quantity": quantity,
        "group_id": group,
        "type": kind,
    }
    return json.dumps(body)


def test_group_purchase_accepted_while_its_result_is_recorded_is_paid(
    fresh_database_url: str,
) -> None:
    """A group purchase validated while its fixture's final result is being recorded
    becomes a lot that is paid, once."""
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=30_000)
    exchange = _exchange(database, "race")
    exchange.ingest_fixtures([fixture(1)])
    exchange.top_up(ADMIN.user_id, 10_000)
    bought = exchange.buy_bonds(
        BuyBonds(ADMIN.user_id, 1, Outcome.HOME, 10, wallet=True, seller=15, admin=True)
    )

    results = _held_open(database, _final_result)
    verdict = {"request_id": bought.purchase.request_id, "group_id": 1, "valid": True}
    exchange.receive(TOPIC_VALIDATION, json.dumps(verdict))
    results.join()

    assert _payouts(exchange) == 10 * WIN
    assert _scalar(fresh_database_url, sa.select(t.lots.c.settled)) is True
    database.dispose()


def test_accept_racing_a_reject_of_the_same_proposal_loses(fresh_database_url: str) -> None:
    """An admin accepting a proposal another admin is rejecting gets a Conflict: no swap,
    no acceptance published, the rejection stands."""
    lot = _stock(fresh_database_url, 10, {})
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=30_000)
    exchange = _exchange(database, "race")
    offer = exchange.offer_bonds(ADMIN, lot, 4)
    exchange.receive(TOPIC_AUCTIONS, _auction_message("proposal", offer.auction_id, "p-1", 30, 4))

    def reject(uow: UnitOfWork) -> None:  # AuctionHouse.reject's writes, kept open
        assert uow.auction_book.decide("p-1", ProposalState.REJECTED)

    rejecting = _held_open(database, reject)
    with pytest.raises(Conflict):
        exchange.accept_proposal(ADMIN, "p-1")
    rejecting.join()

    [proposal] = exchange.received_proposals(ADMIN)
    assert proposal.state is ProposalState.REJECTED
    swaps = sa.select(sa.func.count()).where(t.lots.c.source.like("swap:%"))
    assert _scalar(fresh_database_url, swaps) == 0
    assert exchange.our_offers(ADMIN)[0].state is AuctionState.OPEN
    database.dispose()


def test_accept_racing_the_final_result_trades_nothing_paid(fresh_database_url: str) -> None:
    """An admin accepting while the offer's fixture's final result is recorded waits for
    it and is refused: the offered bonds are paid to the group once, never traded."""
    lot = _stock(fresh_database_url, 10, {})
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=30_000)
    exchange = _exchange(database, "race")
    offer = exchange.offer_bonds(ADMIN, lot, 4)
    exchange.receive(TOPIC_AUCTIONS, _auction_message("proposal", offer.auction_id, "p-1", 30, 4))

    results = _held_open(database, _final_result)
    with pytest.raises(FixtureStarted):
        exchange.accept_proposal(ADMIN, "p-1")
    results.join()

    assert _payouts(exchange) == 10 * WIN
    traded = sa.select(sa.func.count()).where(t.lots.c.status == LotStatus.TRADED.value)
    assert _scalar(fresh_database_url, traded) == 0
    database.dispose()


def test_acceptance_of_our_proposal_racing_the_final_result_pays_once(
    fresh_database_url: str,
) -> None:
    """Another group's acceptance of our proposal arriving while the final result is
    recorded: the bonds we gave are not paid to us, those we received are, once."""
    lot = _stock(fresh_database_url, 10, {})
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=30_000)
    exchange = _exchange(database, "race")
    exchange.receive(TOPIC_AUCTIONS, _auction_message("offer", "a-9", "", 6, 5))
    proposal = exchange.propose_bonds(ADMIN, "a-9", lot, 5)

    results = _held_open(database, _final_result)
    accepted = _auction_message("acceptance", "a-9", proposal.proposal_id, 6, 5)
    assert exchange.receive(TOPIC_AUCTIONS, accepted) == Handled.APPLIED
    results.join()

    assert _payouts(exchange) == 10 * WIN  # 5 held at the result + 5 received
    unpaid = sa.select(sa.func.count()).where(
        t.lots.c.settled == sa.false(), t.lots.c.status != LotStatus.TRADED.value
    )
    assert _scalar(fresh_database_url, unpaid) == 0
    database.dispose()


def test_a_user_buying_from_a_lot_while_its_result_is_recorded_is_refused(
    fresh_database_url: str,
) -> None:
    """A user's purchase from a lot waits for the fixture's final result being recorded
    and is refused: no accepted purchase is left that its settlement never saw."""
    lot = _stock(fresh_database_url, 10, {"auth0|late": 5_000})
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=30_000)
    exchange = _exchange(database, "race")

    results = _held_open(database, _final_result)
    with pytest.raises(FixtureStarted):
        exchange.buy_from_lot("auth0|late", lot, 2)
    results.join()

    unsettled = sa.select(sa.func.count()).where(t.purchases.c.status == "accepted")
    assert _scalar(fresh_database_url, unsettled) == 0
    database.dispose()
