"""``SqlAsyncSaleLedger`` on a real PostgreSQL: what its connections do when the database
makes a lot wait, drops a connection, or the lot's coroutine is cancelled; and that each
event loop has connections of its own. (What it writes is ``tests/contract``'s.)"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from goat_adapters.memory import InMemoryJobQueue
from goat_adapters.sql import SqlAsyncSaleLedger, SqlDatabase
from goat_adapters.sql import tables as t
from goat_app.compose import Overrides, build_system
from goat_app.settings import Settings
from goat_core.errors import Busy, Unavailable
from goat_core.model import LedgerKind
from goat_core.ports import Sale
from tests.contract.builders import NOW, fixture, purchase
from tests.waiting import until, wait_until

pytestmark = pytest.mark.integration

T = TypeVar("T")
HOLD_THE_FIXTURE = "SELECT 1 FROM fixtures WHERE id = 1 FOR UPDATE"


@pytest.fixture
def database(fresh_database_url: str) -> Iterator[SqlDatabase]:
    """Fixture 1 with 40 bonds, alice's wallet with 10,000; locks wait at most 300 ms."""
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=300)
    with database.unit_of_work() as uow:
        uow.fixtures.upsert_many([fixture(1)], 40, NOW)
        uow.wallets.credit("alice", 10_000, LedgerKind.TOP_UP, None, NOW)
        uow.commit()
    yield database
    database.dispose()


@pytest.fixture
def ledger(database: SqlDatabase) -> Iterator[SqlAsyncSaleLedger]:
    ledger = SqlAsyncSaleLedger(database)
    yield ledger
    ledger.close()


def sale(request_id: str) -> Sale:
    """alice buys one bond of fixture 1 by wallet."""
    return Sale(purchase(request_id, user_id="alice", quantity=1), 1000, "{}")


def sold(database: SqlDatabase) -> list[str]:
    with database.engine.connect() as connection:
        return list(connection.execute(sa.select(t.purchases.c.request_id)).scalars())


def sessions(database: SqlDatabase, *, busy: bool = False) -> int:
    """Connections to the database other than the one asking (``busy``: those running a
    statement or inside a transaction)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    if busy:
        query += " AND state <> 'idle'"
    with database.engine.connect() as connection:
        return int(connection.exec_driver_sql(query).scalar_one())


def drop_every_connection(database: SqlDatabase) -> None:
    """What a server restart does to the connections to the database."""
    with database.engine.connect() as connection:
        connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def waiting_for_a_lock(database: SqlDatabase) -> bool:
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with database.engine.connect() as connection:
        return bool(connection.exec_driver_sql(query).scalar_one())


@contextlib.contextmanager
def holding_the_fixture(database: SqlDatabase) -> Iterator[None]:
    with database.engine.connect() as holder:
        holder.execute(sa.text(HOLD_THE_FIXTURE))
        try:
            yield
        finally:
            holder.rollback()


def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` on a new loop; a TimeoutError rather than a hang."""
    return asyncio.run(asyncio.wait_for(awaitable, seconds))


def test_build_system_on_postgresql_writes_the_apis_lots_on_the_event_loop(
    fresh_database_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    """``goat api`` on PostgreSQL gets an ``SqlAsyncSaleLedger``; on SQLite, none (a thread
    writes each lot)."""
    kinds = []
    for url in (fresh_database_url, sqlite_url):
        settings = Settings(data_dir=tmp_path, database_url=url)
        system = build_system(settings, overrides=Overrides(jobs=InMemoryJobQueue()))
        try:
            kinds.append(type(system.exchange.context.async_sales))
        finally:
            system.close()
    assert kinds == [SqlAsyncSaleLedger, type(None)]


def test_a_lot_kept_waiting_past_the_lock_timeout_is_busy_and_the_next_one_is_written(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    with holding_the_fixture(database), pytest.raises(Busy):
        within(10, ledger.record([sale("r1")], NOW))
    assert sold(database) == []
    within(10, ledger.record([sale("r2")], NOW))
    assert sold(database) == ["r2"]


def test_a_connection_the_database_dropped_is_unavailable_once_then_replaced(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    async def main() -> None:
        assert set(await ledger.fixtures({1})) == {1}  # a connection, idle now
        drop_every_connection(database)
        with pytest.raises(Unavailable):  # a write is not made again: it may have been
            await ledger.record([sale("r1")], NOW)
        await ledger.record([sale("r2")], NOW)

    within(30, main())
    assert sold(database) == ["r2"]


def test_a_read_that_finds_its_connection_dropped_is_made_again_on_a_new_one(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    """After a restart (every connection dropped) a lot's first read still answers: a
    read changes nothing, so it is made once more on a new connection."""

    async def main() -> tuple[object, object]:
        await ledger.fixtures({1})  # a connection, idle now
        drop_every_connection(database)
        return set(await ledger.fixtures({1})), await ledger.balances({"alice"})

    assert within(30, main()) == ({1}, {"alice": 10_000})


def test_a_lot_whose_coroutine_is_cancelled_keeps_nothing_and_leaves_no_transaction_open(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    """Cancelled while the database makes it wait: nothing of the lot is kept, no
    connection is left inside its transaction, and the next lot is written."""

    async def main() -> None:
        with holding_the_fixture(database):
            writing = asyncio.create_task(ledger.record([sale("r1")], NOW))
            await until(lambda: waiting_for_a_lock(database), what="the lot to wait")
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
        await until(lambda: sessions(database, busy=True) == 0, what="the lot to end")
        await ledger.record([sale("r2")], NOW)

    within(30, main())
    assert sold(database) == ["r2"]


def test_loops_of_two_threads_sharing_a_ledger_each_write_on_their_own_connection(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    """Two event loops (two threads) write lots through one ledger at the same time, each
    on a connection of its own."""
    with database.unit_of_work() as uow:
        uow.wallets.credit("alice", 40_000, LedgerKind.TOP_UP, None, NOW)
        uow.commit()
    errors: list[BaseException] = []
    written, counted = threading.Barrier(3, timeout=30), threading.Event()

    def lots(first: int) -> None:
        async def main() -> None:
            for i in range(first, first + 20):
                await ledger.record([sale(f"r{i}")], NOW)
                await ledger.balances({"alice"})
            written.wait()  # both loops still open while their connections are counted
            counted.wait(timeout=30)

        try:
            within(60, main())
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=lots, args=(first,), daemon=True) for first in (0, 100)]
    for thread in threads:
        thread.start()
    written.wait()
    connections = sessions(database)
    counted.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(sold(database)) == 40
    assert connections == 2


def test_each_event_loop_has_its_own_connection_and_one_that_closed_gives_it_back(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    async def read_twice() -> None:
        await ledger.fixtures({1})
        await ledger.balances({"alice"})

    within(30, read_twice())
    assert sessions(database) == 1  # one connection served both reads
    within(30, read_twice())  # another loop: the first one's connection is closed
    wait_until(lambda: sessions(database) == 1, what="the first loop's connection to close")
    ledger.close()
    wait_until(lambda: sessions(database) == 0, what="the ledger's connections to close")


def test_a_lot_in_flight_when_the_ledger_closes_closes_its_connection(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    """``close()`` while a lot waits for a lock: the lot is written, and its connection is
    closed when it ends instead of kept idle for a loop nobody will use."""

    async def main() -> None:
        with holding_the_fixture(database):
            writing = asyncio.create_task(ledger.record([sale("r1")], NOW))
            await until(lambda: waiting_for_a_lock(database), what="the lot to wait")
            ledger.close()
        await writing

    within(30, main())
    assert sold(database) == ["r1"]
    database.engine.dispose()  # the pool's own connections: only the ledger's are left
    wait_until(lambda: sessions(database) == 0, what="the lot's connection to close")
