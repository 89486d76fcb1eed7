"""No amount of concurrency oversells a fixture or overdraws a wallet (real threads, real DB).

Every race starts its threads at a barrier so that they really overlap. A control run
puts a naive read-then-write reservation under the same harness and shows that the
harness catches the oversell it causes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from goat_adapters.memory import (
    InMemoryJobQueue,
    InMemoryPaymentGateway,
    ManualClock,
    SequentialIds,
)
from goat_adapters.sql import SqlAsyncSaleLedger, SqlDatabase, SqlSaleLedger, SqlUnitOfWork
from goat_adapters.sql import tables as t
from goat_adapters.sql.fixtures import RESERVE
from goat_adapters.sql.sales import sale_batches
from goat_core.errors import NotEnoughBonds
from goat_core.jobs import Job
from goat_core.model import HOLDING_STATUSES, LedgerKind, MatchState, Outcome, Rules
from goat_core.ports import Sale, UnitOfWorkFactory
from goat_core.services import BuyBonds, Exchange
from goat_core.services.purchasing import _Order
from goat_core.wire import TOPIC_HISTORY, TOPIC_REQUESTS, TOPIC_VALIDATION, render_history
from tests.contract.builders import NOW, fixture, purchase
from tests.waiting import wait_until

BONDS = 40


def race(threads: int, action: Callable[[int], object]) -> Counter[str]:
    """Run ``action(i)`` in ``threads`` threads released together; count outcomes by name."""
    barrier = threading.Barrier(threads)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            action(i)
            outcome = "ok"
        except Exception as error:  # every failure is counted by its type
            outcome = type(error).__name__
        with lock:
            outcomes[outcome] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert sum(outcomes.values()) == threads, "a thread did not finish"
    return outcomes


def race_on_loops(
    loops: int, each: int, action: Callable[[int], Awaitable[object]]
) -> Counter[str]:
    """Run ``action(i)`` as ``each`` coroutines on each of ``loops`` event loops (a thread
    each, as API processes), the loops released together; count outcomes by name."""
    barrier = threading.Barrier(loops)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    async def run(i: int) -> None:
        try:
            await action(i)
            outcome = "ok"
        except Exception as error:  # every failure is counted by its type
            outcome = type(error).__name__
        with lock:
            outcomes[outcome] += 1

    async def loop(first: int) -> None:
        await asyncio.gather(*(run(i) for i in range(first, first + each)))

    def start(first: int) -> None:
        barrier.wait()
        asyncio.run(loop(first))

    workers = [threading.Thread(target=start, args=(n * each,)) for n in range(loops)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert sum(outcomes.values()) == loops * each, "a coroutine did not finish"
    return outcomes


PROCESSES = 4


@attrs.define
class Market:
    """One database and several exchanges on it, as several API processes would be.

    An exchange writes the purchases made at the same moment as one lot, one lot at a
    time; its lots race those of the other exchanges in the database alone.
    """

    database: SqlDatabase
    exchanges: list[Exchange]
    ledgers: list[SqlAsyncSaleLedger]

    @classmethod
    def open(
        cls,
        url: str,
        uow: Callable[[SqlDatabase], UnitOfWorkFactory] | None = None,
        *,
        on_the_loop: bool = False,
    ) -> Market:
        """With ``on_the_loop``, each exchange writes its coroutines' lots through an
        ``SqlAsyncSaleLedger`` of its own (PostgreSQL), as ``goat api`` does."""
        # enough connections for every racing thread to hold one: maximal overlap
        database = SqlDatabase(url, lock_timeout_ms=30_000, pool_size=60, max_overflow=0)
        ledgers = [SqlAsyncSaleLedger(database) for _ in range(PROCESSES)] if on_the_loop else []
        ids = SequentialIds()  # request ids unique across the exchanges
        exchanges = [
            Exchange(
                uow=uow(database) if uow else database.unit_of_work,
                async_sales=ledgers[i] if ledgers else None,
                payments=InMemoryPaymentGateway(),
                jobs=InMemoryJobQueue(),
                clock=ManualClock(NOW),
                ids=ids,
                rules=Rules(group_id="15", bonds_per_fixture=BONDS),
            )
            for i in range(PROCESSES)
        ]
        exchanges[0].ingest_fixtures([fixture(1)])
        return cls(database, exchanges, ledgers)

    def close(self) -> None:
        for ledger in self.ledgers:
            ledger.close()
        self.database.dispose()

    @property
    def exchange(self) -> Exchange:
        return self.exchanges[0]

    def buy(self, user: str, quantity: int = 1, via: int = 0) -> None:
        """Buy through exchange ``via`` (modulo their number)."""
        exchange = self.exchanges[via % len(self.exchanges)]
        exchange.buy_bonds(BuyBonds(user, 1, Outcome.HOME, quantity, wallet=True))

    async def buy_async(self, user: str, via: int) -> None:
        """``buy`` from a coroutine (as ``POST /requests`` does)."""
        exchange = self.exchanges[via % len(self.exchanges)]
        await exchange.buy_bonds_async(BuyBonds(user, 1, Outcome.HOME, 1, wallet=True))

    def scalar(self, query: sa.Select[Any]) -> Any:
        with self.database.engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def available(self) -> int:
        return int(self.scalar(sa.select(t.fixtures.c.available).where(t.fixtures.c.id == 1)))

    def held(self) -> int:
        """Bonds held on the fixture by purchases that keep them (all but rejected)."""
        holding = sorted(s.value for s in HOLDING_STATUSES)
        p = t.purchases.c
        return int(
            self.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(p.reserved), 0)).where(
                    p.fixture_id == 1, p.status.in_(holding)
                )
            )
        )

    def balances(self) -> int:
        return int(self.scalar(sa.select(sa.func.coalesce(sa.func.sum(t.users.c.wallet), 0))))

    def ledger_total(self) -> int:
        return int(self.scalar(sa.select(sa.func.coalesce(sa.func.sum(t.ledger.c.amount), 0))))


def assert_bonds_exact(market: Market, outcomes: Counter[str], sold: int) -> None:
    """Exactly ``sold`` purchases succeeded and availability is what they left, never less."""
    assert outcomes["ok"] == sold, outcomes
    assert market.available() == BONDS - market.held() >= 0
    assert market.held() == sold


@pytest.fixture(
    params=[pytest.param("fresh_database_url", marks=pytest.mark.integration), "sqlite_url"]
)
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


@pytest.fixture
def market(url: str) -> Iterator[Market]:
    opened = Market.open(url)
    yield opened
    opened.close()


@pytest.fixture
def pg_market(fresh_database_url: str) -> Iterator[Market]:
    """``market`` on PostgreSQL alone."""
    opened = Market.open(fresh_database_url)
    yield opened
    opened.close()


@pytest.fixture(
    params=[
        pytest.param("fresh_database_url", marks=pytest.mark.integration),
        pytest.param("on the loop", marks=pytest.mark.integration),
        "sqlite_url",
    ]
)
def loop_market(request: pytest.FixtureRequest) -> Iterator[Market]:
    """``market`` for coroutines: their lots written by a thread (PostgreSQL, SQLite) or
    on their event loops (PostgreSQL)."""
    on_the_loop = request.param == "on the loop"
    url = request.getfixturevalue("fresh_database_url" if on_the_loop else request.param)
    opened = Market.open(url, on_the_loop=on_the_loop)
    yield opened
    opened.close()


def test_200_buyers_of_40_bonds_never_oversell(market: Market) -> None:
    """200 threads each buying 1 of 40 bonds: exactly 40 succeed and availability ends at 0."""
    for i in range(200):
        market.exchange.top_up(f"user-{i}", 1000)
    outcomes = race(200, lambda i: market.buy(f"user-{i}", via=i))
    assert_bonds_exact(market, outcomes, sold=40)
    assert outcomes == Counter({"ok": 40, "NotEnoughBonds": 160})
    assert market.available() == 0
    assert market.balances() == market.ledger_total() == 160 * 1000  # losers were not charged


def test_20_purchases_with_money_for_5_never_overdraw(market: Market) -> None:
    """20 threads spending one wallet that holds 5 bonds' worth: exactly 5 succeed, balance 0."""
    market.exchange.top_up("alice", 5000)
    outcomes = race(20, lambda i: market.buy("alice", via=i))
    assert outcomes == Counter({"ok": 5, "NotEnoughMoney": 15})
    assert market.balances() == market.ledger_total() == 0
    assert_bonds_exact(market, outcomes, sold=5)


def test_200_buyers_on_event_loops_of_40_bonds_never_oversell(loop_market: Market) -> None:
    """200 coroutines on four event loops (each its own exchange's lots) each buying 1 of
    40 bonds: exactly 40 succeed."""
    for i in range(200):
        loop_market.exchange.top_up(f"user-{i}", 1000)
    outcomes = race_on_loops(PROCESSES, 50, lambda i: loop_market.buy_async(f"user-{i}", i // 50))
    assert outcomes == Counter({"ok": 40, "NotEnoughBonds": 160})
    assert_bonds_exact(loop_market, outcomes, sold=40)
    assert loop_market.balances() == loop_market.ledger_total() == 160 * 1000


def test_20_coroutines_with_money_for_5_never_overdraw(loop_market: Market) -> None:
    """20 coroutines on two event loops spending one wallet that holds 5 bonds' worth."""
    loop_market.exchange.top_up("alice", 5000)
    outcomes = race_on_loops(2, 10, lambda i: loop_market.buy_async("alice", i // 10))
    assert outcomes == Counter({"ok": 5, "NotEnoughMoney": 15})
    assert loop_market.balances() == loop_market.ledger_total() == 0
    assert_bonds_exact(loop_market, outcomes, sold=5)


def test_our_purchases_racing_other_groups_keep_availability_exact(market: Market) -> None:
    """Our buyers, peers' requests and peers' rejections racing on one fixture: the count holds."""
    for i in range(30):
        market.exchange.top_up(f"user-{i}", 2000)
    for i in range(10):  # requests whose rejection will race with everything else
        assert market.exchange.receive(TOPIC_REQUESTS, peer_request(f"early-{i}", 1)) == "applied"

    def act(i: int) -> None:
        if i < 30:
            market.buy(f"user-{i}", 2, via=i)
        elif i < 60:
            market.exchange.receive(TOPIC_REQUESTS, peer_request(f"peer-{i}", 3))
        else:
            message = {"request_id": f"early-{i - 60}", "group_id": "6", "valid": False}
            market.exchange.receive(TOPIC_VALIDATION, json.dumps(message))

    outcomes = race(70, act)
    assert set(outcomes) <= {"ok", "NotEnoughBonds"}, outcomes
    assert market.available() == BONDS - market.held() >= 0
    p = t.purchases.c
    rejected = sa.select(sa.func.count()).where(
        p.request_id.like("early-%"), p.status == "rejected"
    )
    assert market.scalar(rejected) == 10


@pytest.mark.integration
def test_two_lots_paying_from_the_same_wallets_never_deadlock(pg_market: Market) -> None:
    """Lots of two exchanges debiting alice and bob in opposite orders both go through."""
    market = pg_market
    for user in ("alice", "bob"):
        market.exchange.top_up(user, 10_000)
    with market.database.engine.begin() as connection:  # widens the window between debits
        connection.exec_driver_sql(
            "CREATE FUNCTION slowly() RETURNS trigger LANGUAGE plpgsql"
            " AS $$BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END$$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER slowly BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION slowly()"
        )

    def lot(exchange: Exchange, *users: str) -> list[_Order]:
        return [
            _Order(
                BuyBonds(user, 1, Outcome.HOME, 1, True),
                Outcome.HOME,
                exchange.context.ids.new_id(),
                NOW,
                None,
                None,
            )
            for user in users
        ]

    first, second = market.exchanges[:2]
    lots = [(first, lot(first, "alice", "bob")), (second, lot(second, "bob", "alice"))]
    outcomes = race(2, lambda i: _assert_written(lots[i][0].purchasing._sell(lots[i][1])))
    assert outcomes == Counter({"ok": 2}), outcomes
    assert market.held() == 4


@pytest.mark.integration
def test_two_lots_selling_fixtures_in_opposite_orders_never_deadlock(
    pg_market: Market,
) -> None:
    """Lots selling fixtures 2 then 1 and 1 then 2 both go through: each reserves by fixture id."""
    market = pg_market
    market.exchange.ingest_fixtures([fixture(2)])
    with market.database.engine.begin() as connection:  # widens the window between updates
        connection.exec_driver_sql(
            "CREATE FUNCTION slowly() RETURNS trigger LANGUAGE plpgsql"
            " AS $$BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END$$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER slowly BEFORE UPDATE ON fixtures FOR EACH ROW EXECUTE FUNCTION slowly()"
        )

    def lot(name: str, *fixture_ids: int) -> list[Sale]:
        return [
            Sale(purchase(f"{name}-{f}", fixture_id=f, quantity=1, deposit_token="t"), 0, "{}")
            for f in fixture_ids
        ]

    lots = [lot("first", 2, 1), lot("second", 1, 2)]

    def write(i: int) -> None:
        with market.database.unit_of_work() as uow:
            uow.sales.record(lots[i], NOW)
            uow.commit()

    assert race(2, write) == Counter({"ok": 2})
    assert market.available() == BONDS - 2


@pytest.mark.integration
def test_a_lot_locks_its_buyers_rows_in_user_order(pg_market: Market) -> None:
    """A lot locks its buyers' ``users`` rows by user id, whatever PostgreSQL's plan, so
    that two lots of overlapping buyers (two API processes) never deadlock: with the last
    buyer's row held elsewhere, the lot waits there holding every other buyer's row."""
    market = pg_market
    users = [f"user{i:02d}" for i in range(40)]
    for user in reversed(users):  # stored, and so scanned, in the other order
        market.exchange.top_up(user, 10_000)
    sales = [Sale(purchase(f"r-{user}", user_id=user, quantity=1), 1_000, "{}") for user in users]
    with holding_the_row_of(market, users[-1], writing(market.database, sales)) as prober:
        assert [user for user in users[:-1] if _lockable(prober, user)] == []
    assert market.balances() == 40 * 10_000 - 40 * 1_000


@pytest.mark.integration
def test_a_lot_locks_its_buyers_then_its_fixtures_by_id(pg_market: Market) -> None:
    """A lot takes its locks in one order (``goat_sell_lot``, migration 0012): its buyers'
    rows, then its fixtures by id. With fixture 2 held elsewhere, the lot waits there
    holding its buyers' rows and fixture 1."""
    market = pg_market
    market.exchange.ingest_fixtures([fixture(2)])
    users = ["ann", "ben"]
    for user in users:
        market.exchange.top_up(user, 10_000)
    sales = [
        Sale(purchase(f"r-{user}-{f}", user_id=user, fixture_id=f, quantity=1), 1_000, "{}")
        for user in users
        for f in (2, 1)
    ]
    fixture_2 = "SELECT 1 FROM fixtures WHERE id = 2 FOR UPDATE"
    with holding(market, fixture_2, writing(market.database, sales)) as prober:
        assert [user for user in users if _lockable(prober, user)] == []
        assert not _lockable(prober, 1, t.fixtures)
    assert market.available() == BONDS - 2


def writing(database: SqlDatabase, sales: Sequence[Sale]) -> Callable[[], None]:
    """What writes ``sales`` as a lot, in a unit of work of its own."""

    def write() -> None:
        with database.unit_of_work() as uow:
            uow.sales.record(sales, NOW)
            uow.commit()

    return write


@contextlib.contextmanager
def uncommitted(
    database: SqlDatabase,
    step: Callable[[SqlUnitOfWork], object],
    action: Callable[[], object],
    *,
    may_end: bool = False,
) -> Iterator[sa.Connection]:
    """``step`` done in a unit of work and not committed, while ``action`` runs in a
    thread; once the action waits for a lock (or, ``may_end``, has ended: the code under
    test may not make it wait), give a connection to probe rows with; then commit and
    let the action finish."""
    acting = threading.Thread(target=action)
    with database.unit_of_work() as uow:
        step(uow)
        acting.start()
        wait_until(
            lambda: _waiting_for_a_lock(database.engine) or (may_end and not acting.is_alive()),
            what="the action to wait",
        )
        with database.engine.connect() as prober:
            yield prober
        uow.commit()
    acting.join(timeout=30)
    assert not acting.is_alive()


NEWBIE = Sale(purchase("r-newbie", user_id="newbie", quantity=1, deposit_token="t"), 0, "{}")


@pytest.mark.integration
def test_a_purchase_written_while_its_buyer_registers_is_counted(pg_market: Market) -> None:
    """``users.purchases`` counts a purchase whose buyer's row is first inserted while the
    purchase is being written (the registration waits for it, then counts it)."""
    market = pg_market
    database = market.database
    with uncommitted(
        database,
        lambda uow: uow.sales.record([NEWBIE], NOW),
        lambda: market.exchange.register("newbie", None, None),
        may_end=True,
    ):
        pass
    assert _kept_purchases(database.engine, "newbie") == 1


@pytest.mark.integration
def test_a_buyer_registered_while_their_purchase_is_written_is_counted(
    pg_market: Market,
) -> None:
    """The other order: the row is inserted first and not committed while the purchase
    is written; the purchase waits for it and adds to it."""
    market = pg_market
    database = market.database
    with uncommitted(
        database,
        lambda uow: uow.users.get_or_create("newbie", None, None),
        writing(database, [NEWBIE]),
        may_end=True,
    ):
        pass
    assert _kept_purchases(database.engine, "newbie") == 1


@pytest.mark.integration
def test_a_lot_waiting_for_a_buyer_being_registered_holds_no_row(
    pg_market: Market,
) -> None:
    """A lot of a buyer whose row is being inserted waits for that insert before it locks
    any row: locking its other buyers first, it could take the new row out of order."""
    market = pg_market
    database = market.database
    market.exchange.top_up("x-seen", 10_000)
    lot = [
        Sale(purchase(f"r-{user}", user_id=user, quantity=1, deposit_token="t"), 0, "{}")
        for user in ("u-new", "x-seen")
    ]
    with uncommitted(
        database,
        lambda uow: uow.users.get_or_create("u-new", None, None),
        writing(database, lot),
    ) as prober:
        assert _lockable(prober, "x-seen")
    assert _kept_purchases(database.engine, "x-seen") == 1


def _kept_purchases(engine: sa.Engine, user: str) -> int:
    query = sa.select(t.users.c.purchases).where(t.users.c.id == user)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _waiting_for_a_lock(engine: sa.Engine) -> bool:
    """Whether a session of this database waits for a lock."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with engine.connect() as connection:
        return bool(connection.exec_driver_sql(query).scalar_one())


def _lockable(connection: sa.Connection, key: str | int, table: sa.Table = t.users) -> bool:
    """Whether the row of ``table`` with this primary key can be locked at once (no other
    transaction holds it)."""
    (column,) = table.primary_key.columns
    try:
        connection.execute(sa.select(column).where(column == key).with_for_update(nowait=True))
    except sa.exc.OperationalError:
        return False
    finally:
        connection.rollback()
    return True


def _assert_written(outcomes: Sequence[object]) -> None:
    failed = [o for o in outcomes if isinstance(o, Exception)]
    if failed:
        raise failed[0]


def interleave(market: Market, first: tuple[str, str], second: tuple[str, str]) -> None:
    """Apply ``first`` up to its commit, deliver ``second`` meanwhile, then let both finish.

    Without a lock between them ``second`` finishes while ``first`` is still open, blind to
    it; with one it waits for ``first`` to commit.
    """
    at_commit, release = threading.Event(), threading.Event()

    class CommitWhenReleased(SqlUnitOfWork):
        def commit(self) -> None:
            at_commit.set()
            release.wait(timeout=10)
            super().commit()

    shared = market.exchange.context
    paused = Exchange(
        uow=lambda: CommitWhenReleased(market.database.engine),
        payments=InMemoryPaymentGateway(),
        jobs=shared.jobs,
        clock=shared.clock,
        ids=shared.ids,
        rules=shared.rules,
    )
    one = threading.Thread(target=paused.receive, args=first)
    two = threading.Thread(target=market.exchange.receive, args=second)
    try:
        one.start()
        assert at_commit.wait(timeout=10)
        two.start()
        two.join(timeout=0.5)  # time enough to finish if nothing holds it back
    finally:
        release.set()
        one.join(timeout=10)
        two.join(timeout=10)


def status_of(market: Market, request_id: str) -> str:
    with market.database.unit_of_work() as uow:
        found = uow.purchases.get(request_id)
    assert found is not None
    return found.status.value


@pytest.mark.integration
def test_a_validation_racing_its_request_is_never_lost(pg_market: Market) -> None:
    """A request recorded while its validation is being parked still gets that validation."""
    market = pg_market
    verdict = {"request_id": "race-1", "group_id": "6", "seller": 0, "valid": False}
    interleave(
        market,
        (TOPIC_VALIDATION, json.dumps(verdict)),
        (TOPIC_REQUESTS, peer_request("race-1", 3)),
    )
    assert status_of(market, "race-1") == "rejected"
    assert market.available() == BONDS


@pytest.mark.integration
def test_a_purchase_accepted_while_its_final_result_arrives_is_settled(
    pg_market: Market,
) -> None:
    """Accepting and recording the final result at once still settles the purchase once."""
    market = pg_market
    market.exchange.receive(TOPIC_REQUESTS, peer_request("late-1", 2))
    verdict = {"request_id": "late-1", "group_id": "6", "seller": 0, "valid": True}
    history = render_history([MatchState(1, "FT", "Match Finished", 90, 0, 2)])  # Chelsea wins
    interleave(market, (TOPIC_VALIDATION, json.dumps(verdict)), (TOPIC_HISTORY, history))
    assert status_of(market, "late-1") == "won"


@contextlib.contextmanager
def holding(market: Market, lock: str, action: Callable[[], object]) -> Iterator[sa.Connection]:
    """Run ``action`` in a thread while another transaction holds what the SQL ``lock``
    takes; once the action waits for a lock, give a connection to probe rows with; then
    let go and let the action finish."""
    engine = market.database.engine
    acting = threading.Thread(target=action)
    with engine.connect() as holder:
        holder.execute(sa.text(lock))
        acting.start()
        try:
            wait_until(lambda: _waiting_for_a_lock(engine), what="the action to wait")
            with engine.connect() as prober:
                yield prober
        finally:
            holder.rollback()
            acting.join(timeout=30)
    assert not acting.is_alive()


def holding_the_row_of(
    market: Market, user: str, action: Callable[[], object]
) -> contextlib.AbstractContextManager[sa.Connection]:
    """``holding`` ``user``'s row."""
    return holding(market, f"SELECT 1 FROM users WHERE id = '{user}' FOR UPDATE", action)


def holding_the_result_of(
    market: Market, fixture_id: int, action: Callable[[], object]
) -> contextlib.AbstractContextManager[sa.Connection]:
    """``holding`` the fixture's result lock (``FixtureRepository.lock``), shared, as a
    buyer from the group's lots holds it."""
    key = f"hashtextextended('fixture-result:{fixture_id}', 0)"
    return holding(market, f"SELECT pg_advisory_xact_lock_shared({key})", action)


def bought_by(market: Market, *users: str) -> list[str]:
    """Each user's wallet purchase of fixture 1, in that order: their request ids."""
    for user in users:
        market.exchange.top_up(user, 10_000)
        market.buy(user)
    with market.database.engine.connect() as connection:
        query = sa.select(t.purchases.c.request_id).order_by(t.purchases.c.created_at)
        return list(connection.execute(query.where(t.purchases.c.group_id == "15")).scalars())


def verdict(request_id: str, valid: bool, group: str = "15") -> tuple[str, str]:
    body = {"request_id": request_id, "group_id": group, "seller": 0, "valid": valid}
    return TOPIC_VALIDATION, json.dumps(body)


HOME_WINS = render_history([MatchState(1, "FT", "Match Finished", 90, 2, 0)])


@pytest.mark.integration
def test_winners_are_paid_in_user_order(pg_market: Market) -> None:
    """A final result pays its winners in the order lots lock buyers' rows (user id), not
    in the order they bought: waiting for the first winner's row, it holds no other's."""
    market = pg_market
    bought = bought_by(market, "zed", "amy")  # zed buys first
    for request_id in bought:
        market.exchange.receive(*verdict(request_id, True))
    with holding_the_row_of(
        market, "amy", lambda: market.exchange.receive(TOPIC_HISTORY, HOME_WINS)
    ) as prober:
        assert _lockable(prober, "zed")
    assert [status_of(market, request_id) for request_id in bought] == ["won", "won"]


@pytest.fixture
def amys_purchase(pg_market: Market) -> tuple[Market, str]:
    """A market with fixtures 1 and 2, and amy's wallet purchase of fixture 1 (pending):
    the market and the purchase's request id."""
    pg_market.exchange.ingest_fixtures([fixture(2)])
    (amys,) = bought_by(pg_market, "amy")
    return pg_market, amys


@pytest.mark.integration
def test_a_final_result_updates_fixtures_on_sale_after_paying(
    amys_purchase: tuple[Market, str],
) -> None:
    """The states of fixtures not ended in a final result's message come after its
    payments: waiting for a winner's row, it holds no fixture a lot may still sell."""
    market, amys = amys_purchase
    market.exchange.receive(*verdict(amys, True))
    history = render_history(
        [
            MatchState(1, "FT", "Match Finished", 90, 2, 0),
            MatchState(2, "PST", "Postponed", 0, 0, 0),
        ]
    )
    with holding_the_row_of(
        market, "amy", lambda: market.exchange.receive(TOPIC_HISTORY, history)
    ) as prober:
        assert _lockable(prober, 2, t.fixtures)
    assert status_of(market, amys) == "won"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("valid", "group"),
    [(False, "15"), (True, "15"), (False, "6")],
    ids=["refund", "late acceptance", "refund naming another group"],
)
def test_a_verdict_that_pays_in_a_lot_of_messages_locks_no_fixture_first(
    amys_purchase: tuple[Market, str], valid: bool, group: str
) -> None:
    """A verdict on our purchase that pays its buyer (a rejection refunds it; an acceptance
    after its fixture ended settles it) coming after another group's request in one lot
    of messages: waiting for the buyer's row, the listener holds no fixture."""
    market, amys = amys_purchase
    if valid:
        market.exchange.receive(TOPIC_HISTORY, HOME_WINS)  # amy's purchase still pending
    lot = [(TOPIC_REQUESTS, peer_request("p-1", 2, fixture_id=2)), verdict(amys, valid, group)]
    with holding_the_row_of(market, "amy", lambda: market.exchange.receive_many(lot)) as prober:
        assert _lockable(prober, 2, t.fixtures)
    assert status_of(market, amys) == ("won" if valid else "rejected")
    assert status_of(market, "p-1") == "pending"
    with market.database.unit_of_work() as uow:
        kinds = [entry.kind for entry in uow.wallets.ledger("amy")]
    paid = LedgerKind.PAYOUT if valid else LedgerKind.REFUND
    assert kinds == [LedgerKind.TOP_UP, LedgerKind.PURCHASE, paid]


@pytest.mark.integration
def test_a_refund_in_a_lot_of_messages_is_applied_alone(amys_purchase: tuple[Market, str]) -> None:
    """A message that pays a buyer is applied alone: the acceptance after it in the lot,
    which takes the fixture's result lock, waits for that lock holding no buyer's row (a
    buyer from the group's lots holds that lock, then takes their row)."""
    market, amys = amys_purchase
    market.exchange.receive(TOPIC_REQUESTS, peer_request("p-1", 2, fixture_id=2))
    lot = [verdict(amys, False), verdict("p-1", True, "6")]
    with holding_the_result_of(market, 2, lambda: market.exchange.receive_many(lot)) as prober:
        assert _lockable(prober, "amy")
    assert (status_of(market, amys), status_of(market, "p-1")) == ("rejected", "accepted")


@pytest.mark.integration
def test_a_final_result_takes_every_fixtures_result_lock_first(
    amys_purchase: tuple[Market, str],
) -> None:
    """Two listeners applying two results messages (a shared subscription) wait for each
    other at the fixtures' result locks, before either holds a row: waiting for fixture
    2's, the message with fixture 1's final result has paid no one yet."""
    market, amys = amys_purchase
    market.exchange.receive(*verdict(amys, True))
    history = render_history(
        [
            MatchState(1, "FT", "Match Finished", 90, 2, 0),
            MatchState(2, "2H", "Second Half", 60, 0, 0),
        ]
    )
    with holding(
        market,
        "SELECT pg_advisory_xact_lock(hashtextextended('fixture-result:2', 0))",
        lambda: market.exchange.receive(TOPIC_HISTORY, history),
    ) as prober:
        assert _lockable(prober, "amy")
        assert _lockable(prober, 1, t.fixtures)
    assert status_of(market, amys) == "won"


def peer_request(request_id: str, quantity: int, fixture_id: int = 1) -> str:
    return json.dumps(
        {
            "request_id": request_id,
            "group_id": 6,
            "fixture_id": fixture_id,
            "result": "Chelsea",
            "quantity": quantity,
            "wallet": True,
            "deposit_token": "",
            "datetime": "2024-10-01T12:00:00 UTC",
            "seller": 0,
        }
    )


# -- the control: a reservation that reads, then writes ------------------------------------


class ReadThenWriteSales(SqlSaleLedger):
    """The bug the harness must catch: check availability, then store the computed rest."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        super().__init__(uow)
        self._uow = uow

    def record(self, sales: Sequence[Sale], now: datetime, jobs: Sequence[Job] = ()) -> None:
        wanted = Counter[int]()
        for sale in sales:
            wanted[sale.purchase.fixture_id] += sale.purchase.quantity
        for fixture_id, quantity in sorted(wanted.items()):
            current = self._uow.fixtures.get(fixture_id)
            if current is None or (current.available_bonds or 0) < quantity:
                raise NotEnoughBonds(fixture_id, quantity)
            time.sleep(0.02)  # widen the window between read and write, as a slow network would
            self._uow.execute(
                sa.update(t.fixtures)
                .where(t.fixtures.c.id == fixture_id)
                .values(available=(current.available_bonds or 0) - quantity)
            )
        batches = sale_batches(sales, now, jobs)  # one row each, on PostgreSQL too
        self._uow.run_many([batch for batch in batches if batch.statement is not RESERVE])


class ReadThenWriteUnitOfWork(SqlUnitOfWork):
    def __init__(self, database: SqlDatabase) -> None:
        super().__init__(database.engine)
        self.sales = ReadThenWriteSales(self)


@pytest.mark.integration
def test_control_read_then_write_oversells_under_the_same_harness(fresh_database_url: str) -> None:
    """The harness is sharp: a read-then-write reservation sells more than 40 bonds in it."""
    naive = Market.open(
        fresh_database_url, uow=lambda database: lambda: ReadThenWriteUnitOfWork(database)
    )
    try:
        for i in range(200):
            naive.exchange.top_up(f"user-{i}", 1000)
        outcomes = race(200, lambda i: naive.buy(f"user-{i}", via=i))
        with pytest.raises(AssertionError):
            assert_bonds_exact(naive, outcomes, sold=40)
        assert outcomes["ok"] > BONDS, outcomes  # oversold
    finally:
        naive.database.dispose()
