"""``ports.AsyncSaleLedger`` on PostgreSQL: the API's lots read and written from its event
loop, on psycopg's asynchronous connections.

A lot written by a thread waited at each of its round trips for the interpreter's lock,
held by the event loop answering requests (``benchmarks/README.md``, sessions 10 and
11); here the loop itself awaits the database between requests. The statements, their
parameters and their checks are the unit of work's (``SELL_LOT``, ``Lot``), prepared on
the server the same way. The reads run on their own, as a unit of work's reads before its
first write; a lot's writes are one call of ``goat_sell_lot`` outside any transaction,
so a transaction of its own, and a check that falls short rolls it back and raises as
``SqlSaleLedger`` does.

A connection waits on the loop that uses it, so each loop has connections of its own,
opened when first needed: one serves a loop whose lots are written one at a time. A
connection found broken is closed, and the next call opens another (a read is made
again at once on a new one; a lot's writes are not, they may have been kept). Those of
a loop that has closed are closed at the next call from any loop, the rest by
``close()`` (one in use when its call ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import psycopg

from goat_adapters.sql.database import SqlDatabase
from goat_adapters.sql.engines import postgres_options
from goat_adapters.sql.errors import translate_psycopg
from goat_adapters.sql.fixtures import GET_MANY, fixture_of
from goat_adapters.sql.sales import SELL_LOT, Lot
from goat_adapters.sql.statements import Prepared, Statement
from goat_adapters.sql.users import BALANCES
from goat_core.errors import Unavailable
from goat_core.jobs import Job
from goat_core.model import Fixture
from goat_core.ports import Sale

__all__ = ["SqlAsyncSaleLedger"]


@attrs.define(eq=False)
class _Session:
    """A connection and the cursor it runs everything on (a cursor keeps how to dump and
    load its types)."""

    connection: psycopg.AsyncConnection[Any]
    cursor: psycopg.AsyncCursor[Any]

    @classmethod
    def of(cls, connection: psycopg.AsyncConnection[Any]) -> _Session:
        return cls(connection, connection.cursor())


class SqlAsyncSaleLedger:
    """``ports.AsyncSaleLedger`` on the PostgreSQL database of ``database``."""

    def __init__(self, database: SqlDatabase) -> None:
        engine = database.engine
        if engine.dialect.name != "postgresql":
            raise ValueError("SqlAsyncSaleLedger needs PostgreSQL")
        self._dialect = engine.dialect
        # what SQLAlchemy's engine connects with: the same server, types and settings
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        options = {"options": postgres_options(database.lock_timeout_ms)}
        self._connect_args = (list(args), {**kwargs, **options})
        self._idle: dict[asyncio.AbstractEventLoop, list[_Session]] = {}
        self._lock = threading.Lock()  # loops of several threads may share the ledger
        self._closed = False

    async def fixtures(self, fixture_ids: Collection[int]) -> dict[int, Fixture]:
        """The stored fixtures among ``fixture_ids``, by id, in one query."""
        if not fixture_ids:
            return {}
        rows = await self._read(GET_MANY, {"ids": list(fixture_ids)})
        return {row.id: fixture_of(row) for row in rows}

    async def balances(self, user_ids: Collection[str]) -> dict[str, int]:
        """The balance of each of these users' wallets, by id, in one query."""
        rows = await self._read(BALANCES, {"ids": list(user_ids)})
        return {row.id: int(row.wallet) for row in rows}

    async def record(self, sales: Sequence[Sale], now: datetime, jobs: Sequence[Job] = ()) -> None:
        """Write every sale of the lot and commit, or raise with nothing kept: ``Conflict``
        or ``NotEnoughMoney`` naming the first sale of the check that fell short,
        ``NotEnoughBonds`` naming the fixture, or the database's error (``Busy``,
        ``Deadlock``, ...)."""
        if not sales:
            return
        lot = Lot(sales, now, jobs)
        prepared = SELL_LOT.prepared(self._dialect)
        async with self._session("(a lot of purchases)") as session:
            try:  # a transaction of its own: the connection is in autocommit
                await session.cursor.execute(
                    prepared.sql, prepared.parameters(lot.parameters), prepare=True
                )
            except psycopg.Error as error:
                refusal = lot.refusal(error)
                if refusal is None:
                    raise
                raise refusal from None

    def close(self) -> None:
        """Close every idle connection (those of every loop); one in use is closed when
        its call ends, and a call made after this closes its own."""
        with self._lock:
            idle, self._idle = self._idle, {}
            self._closed = True
        for sessions in idle.values():
            _close(sessions)

    async def _read(self, statement: Statement, parameters: Mapping[str, Any]) -> list[Any]:
        """The statement's rows; a read that finds its idle connection dropped by the
        server (a restart, an idle timeout) is made once more on a new one: a read
        changes nothing, and the lot goes on."""
        prepared = statement.prepared(self._dialect)
        values = prepared.parameters(parameters)
        try:
            return await self._read_on(prepared, values, fresh=False)
        except Unavailable:
            return await self._read_on(prepared, values, fresh=True)

    async def _read_on(
        self, prepared: Prepared, values: Mapping[str, Any], *, fresh: bool
    ) -> list[Any]:
        async with self._session(prepared.sql, fresh=fresh) as session:
            await session.cursor.execute(prepared.sql, values, prepare=True)
            return prepared.rows(await session.cursor.fetchall())

    @contextlib.asynccontextmanager
    async def _session(self, what: str, *, fresh: bool = False) -> AsyncIterator[_Session]:
        """An idle connection of the running loop (or a new one, or with ``fresh`` always
        a new one) for one use; a psycopg
        error leaves as a goat error, and a connection left in no state to serve again
        (broken, or in a transaction that an interruption left open) is closed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            closed = [gone for gone in self._idle if gone.is_closed()]
            leftovers = [session for gone in closed for session in self._idle.pop(gone)]
            session = self._idle[loop].pop() if self._idle.get(loop) and not fresh else None
        _close(leftovers)
        try:
            if session is None:
                args, kwargs = self._connect_args
                connection = await psycopg.AsyncConnection.connect(*args, autocommit=True, **kwargs)
                session = _Session.of(connection)
            yield session
        except psycopg.Error as error:
            broken = session is None or session.connection.broken or session.connection.closed
            raise translate_psycopg(error, what, broken=broken) from error
        finally:
            kept = False
            if session is not None and _ready(session):
                with self._lock:
                    if not self._closed:
                        self._idle.setdefault(loop, []).append(session)
                        kept = True
            if session is not None and not kept:  # broken, interrupted, or ledger closed
                _close([session])


def _ready(session: _Session) -> bool:
    """Whether the connection may serve the next call: open, and in no transaction."""
    connection = session.connection
    return (
        not connection.closed
        and connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    )


def _close(sessions: Sequence[_Session]) -> None:
    """Close connections without their loop (``AsyncConnection.close`` awaits nothing)."""
    for session in sessions:
        session.connection.pgconn.finish()
