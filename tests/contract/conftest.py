"""The ``backend`` fixture: each contract test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import pytest
import sqlalchemy as sa

from goat_adapters.memory import InMemoryAsyncSaleLedger, InMemoryStore
from goat_adapters.sql import SqlAsyncSaleLedger, SqlDatabase
from goat_adapters.sql import tables as t
from goat_core.ports import AsyncSaleLedger, UnitOfWorkFactory


@attrs.define
class Backend:
    """A unit-of-work factory, and a peek at what the ports cannot read back; its
    ``AsyncSaleLedger`` where it has one (not on SQLite)."""

    name: str
    uow: UnitOfWorkFactory
    auctions: Callable[[], list[str]]
    async_sales: AsyncSaleLedger | None = None


def _sql_backend(name: str, url: str) -> Iterator[Backend]:
    database = SqlDatabase(url, lock_timeout_ms=5000)

    def auctions() -> list[str]:
        with database.engine.connect() as connection:
            query = sa.select(t.auctions.c.payload).order_by(t.auctions.c.id)
            return list(connection.execute(query).scalars())

    if database.dialect != "postgresql":
        yield Backend(name, database.unit_of_work, auctions)
        database.dispose()
        return
    ledger = SqlAsyncSaleLedger(database)
    yield Backend(name, database.unit_of_work, auctions, ledger)
    ledger.close()
    database.dispose()


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each backend in turn, empty and migrated."""
    if request.param == "memory":
        store = InMemoryStore()
        ledger = InMemoryAsyncSaleLedger(store.unit_of_work)
        yield Backend("memory", store.unit_of_work, store.auctions, ledger)
    elif request.param == "sqlite":
        yield from _sql_backend("sqlite", request.getfixturevalue("sqlite_url"))
    else:
        yield from _sql_backend("postgresql", request.getfixturevalue("fresh_database_url"))
