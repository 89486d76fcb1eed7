"""``SqlAsyncSaleLedger`` on a real PostgreSQL: what its connections do when the database
makes a lot wait, drops a connection, or the lot's coroutine is cancelled; and that each
event loop has connections of its own. (What it writes is ``tests/contract``'s.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from goat_adapters.sql import SqlAsyncSaleLedger, SqlDatabase
from goat_adapters.sql import tables as t
from goat_core.errors import Busy, Unavailable
from goat_core.model import LedgerKind
from goat_core.ports import Sale
from tests.contract.builders import NOW, fixture, purchase
from tests.waiting import until, wait_until

pytestmark = pytest.mark.integration

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


def test_a_lot_kept_waiting_past_the_lock_timeout_is_busy_and_the_next_one_is_written(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    with holding_the_fixture(database), pytest.raises(Busy):
        asyncio.run(ledger.record([sale("r1")], NOW))
    assert sold(database) == []
    asyncio.run(ledger.record([sale("r2")], NOW))
    assert sold(database) == ["r2"]


def test_a_connection_the_database_dropped_is_unavailable_once_then_replaced(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    async def main() -> None:
        assert set(await ledger.fixtures({1})) == {1}  # a connection, idle now
        with database.engine.connect() as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(Unavailable):
            await ledger.record([sale("r1")], NOW)
        await ledger.record([sale("r2")], NOW)

    asyncio.run(main())
    assert sold(database) == ["r2"]


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

    asyncio.run(main())
    assert sold(database) == ["r2"]


def test_each_event_loop_has_its_own_connection_and_one_that_closed_gives_it_back(
    database: SqlDatabase, ledger: SqlAsyncSaleLedger
) -> None:
    async def read_twice() -> None:
        await ledger.fixtures({1})
        await ledger.balances({"alice"})

    asyncio.run(read_twice())
    assert sessions(database) == 1  # one connection served both reads
    asyncio.run(read_twice())  # another loop: the first one's connection is closed
    wait_until(lambda: sessions(database) == 1, what="the first loop's connection to close")
    ledger.close()
    wait_until(lambda: sessions(database) == 0, what="the ledger's connections to close")
