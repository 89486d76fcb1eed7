"""The database and its unit of work (engines: ``engines``; errors: ``errors``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn, Self

import psycopg
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.sql import Executable

from goat_adapters.sql.auctions import SqlAuctionBook
from goat_adapters.sql.engines import make_engine
from goat_adapters.sql.errors import translate, translate_psycopg, translated
from goat_adapters.sql.fixtures import SqlFixtureRepository
from goat_adapters.sql.inventory import SqlGroupAccount, SqlInventory
from goat_adapters.sql.jobs import SqlJobOutbox
from goat_adapters.sql.messages import (
    SqlAuctions,
    SqlDeadLetters,
    SqlInbox,
    SqlOutbox,
    SqlParkedValidations,
)
from goat_adapters.sql.parked import SqlParkedRequests
from goat_adapters.sql.purchases import SqlPurchaseRepository
from goat_adapters.sql.sales import SqlSaleLedger
from goat_adapters.sql.statements import (
    Batch,
    Parameters,
    Ran,
    Statement,
    changed,
    lists,
    writes,
)
from goat_adapters.sql.users import (
    SqlRecommendationRepository,
    SqlUserRepository,
    SqlWalletRepository,
)
from goat_core import ports
from goat_core.errors import GoatError

__all__ = ["SqlDatabase", "SqlUnitOfWork"]

log = logging.getLogger("goat.sql")

_CURSORS = "goat.cursors"  # where a pooled PostgreSQL connection keeps its psycopg cursors


class SqlDatabase:
    """A database reachable at ``url``, and the factory of its units of work.

    ``database.unit_of_work`` is a ``ports.UnitOfWorkFactory``. The engine is created
    here, never at import time; ``dispose()`` closes its connections.
    """

    def __init__(
        self,
        url: str,
        *,
        lock_timeout_ms: int = 2000,
        pool_size: int = 20,
        max_overflow: int = 0,
        echo: bool = False,
    ) -> None:
        self.url = url
        self.lock_timeout_ms = lock_timeout_ms
        self.engine = make_engine(
            url,
            lock_timeout_ms=lock_timeout_ms,
            pool_size=pool_size,
            max_overflow=max_overflow,
            echo=echo,
        )

    @property
    def dialect(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return self.engine.dialect.name

    def unit_of_work(self) -> SqlUnitOfWork:
        """A fresh unit of work: one transaction, from ``with`` to ``commit()``."""
        return SqlUnitOfWork(self.engine)

    def check(self) -> None:
        """Raise ``Unavailable`` (or ``Busy``) unless the database answers a query."""
        with translated(), self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class SqlUnitOfWork:
    """One transaction on one pooled connection (``ports.UnitOfWork``).

    ``with uow: ...; uow.commit()``; leaving the block without committing rolls back.
    After ``commit()`` the same block may go on: the next statement opens a new
    transaction.

    On PostgreSQL the transaction opens with the first statement that writes (or locks):
    reads before it run on their own, which under READ COMMITTED sees exactly what they
    would see inside the transaction, and a unit of work that only reads costs no
    BEGIN and no COMMIT round trip. A ``Statement`` runs there straight on psycopg as a
    server-side prepared statement (``run``), on the same connection and in the same
    transaction as SQLAlchemy's; ``run_many`` sends several at once in one pipeline.
    """

    # typed as the ports: a Protocol's attributes are invariant, so this is what makes
    # ``SqlDatabase.unit_of_work`` a ``UnitOfWorkFactory`` without a cast
    fixtures: ports.FixtureRepository
    purchases: ports.PurchaseRepository
    users: ports.UserRepository
    wallets: ports.WalletRepository
    outbox: ports.Outbox
    jobs: ports.JobOutbox
    inbox: ports.Inbox
    parked: ports.ParkedValidations
    parked_requests: ports.ParkedRequests
    dead_letters: ports.DeadLetters
    auctions: ports.Auctions
    inventory: ports.Inventory
    account: ports.GroupAccount
    auction_book: ports.AuctionBook
    recommendations: ports.RecommendationRepository
    sales: ports.SaleLedger

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._wrote = False
        #: PostgreSQL (through psycopg): lazy BEGIN, and statements prepared on psycopg
        self._postgres = engine.dialect.name == "postgresql"
        self.fixtures = SqlFixtureRepository(self)
        self.purchases = SqlPurchaseRepository(self)
        self.users = SqlUserRepository(self)
        self.wallets = SqlWalletRepository(self)
        self.outbox = SqlOutbox(self)
        self.jobs = SqlJobOutbox(self)
        self.inbox = SqlInbox(self)
        self.parked = SqlParkedValidations(self)
        self.parked_requests = SqlParkedRequests(self)
        self.dead_letters = SqlDeadLetters(self)
        self.auctions = SqlAuctions(self)
        self.inventory = SqlInventory(self)
        self.account = SqlGroupAccount(self)
        self.auction_book = SqlAuctionBook(self)
        self.recommendations = SqlRecommendationRepository(self)
        self.sales = SqlSaleLedger(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in use")
        with translated():
            self._connection = self.engine.connect()
            self._reads_alone(True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            try:
                if not self._wrote:
                    # Nothing to undo. (psycopg forgets its prepared statements on every
                    # ROLLBACK, so a read-only transaction ends with a COMMIT, which sends
                    # nothing at all when the reads ran on their own.)
                    connection.commit()
                    self._reads_alone(False)
            finally:
                connection.close()  # rolls back whatever was not committed
        except exc.SQLAlchemyError as error:
            if exc_type is None:
                raise translate(error) from error
            log.warning("could not end the transaction after %s: %s", exc_type.__name__, error)
        finally:
            self._connection = None
            self._wrote = False

    def commit(self) -> None:
        """Make every change durable and visible at once."""
        with translated():
            self._active().commit()
            self._wrote = False
            self._reads_alone(True)

    def rollback(self) -> None:
        """Forget every change since the last commit."""
        with translated():
            self._active().rollback()
            self._wrote = False
            self._reads_alone(True)

    def execute(self, statement: Executable, parameters: Parameters = None) -> CursorResult[Any]:
        """Run a statement made for this call through SQLAlchemy, with errors translated."""
        with translated():
            if not self._wrote and writes(statement):
                self._reads_alone(False)  # BEGIN goes out with this statement
                self._wrote = True
            return self._active().execute(statement, parameters)

    def run(self, statement: Statement, parameters: Mapping[str, Any]) -> Ran:
        """Run a ``Statement`` in this transaction, the fastest way for the dialect.

        On PostgreSQL straight on psycopg, prepared on the server: the statement joins
        this unit of work's transaction exactly as ``execute()`` would, errors leave
        translated, and a connection found broken is invalidated so that the pool
        replaces it. Elsewhere through SQLAlchemy.
        """
        if not self._postgres:
            result = self.execute(statement.construct(self.dialect), parameters)
            rowcount = result.rowcount
            return Ran(list(result) if result.returns_rows else [], rowcount)
        prepared = statement.prepared(self.engine.dialect)
        cursor = self._cursor(writes=prepared.writes)
        try:
            cursor.execute(prepared.sql, prepared.parameters(parameters), prepare=True)
            rows = prepared.rows(cursor.fetchall()) if prepared.row else []
        except psycopg.Error as error:
            raise self._failed(error, cursor, prepared.sql) from error
        return Ran(rows, cursor.rowcount)

    def run_many(self, batches: Sequence[Batch]) -> None:
        """Run each batch's statement for all its parameter sets, batches in order.

        On PostgreSQL all of it goes out at once: one ``executemany`` per statement (or
        the batch's ``together`` statement, once), all in one psycopg pipeline: one
        round trip. A statement that changed fewer rows than it
        had sets raises its ``short`` error for its first set (the row count is the
        statement's total). Elsewhere each set runs on its own and a short one raises at
        once with its own error. Either way the transaction is rolled back before the
        error leaves: nothing of it may be committed now, whatever the caller does next.
        A batch without parameter sets sends nothing.
        """
        batches = [batch for batch in batches if batch.parameters]
        if not batches:
            return
        if not self._postgres:
            for batch in batches:
                self._run_plainly(batch)
            return
        cursors = self._cursors(len(batches), writes=True)  # each keeps its row count
        dbapi = cursors[0].connection
        dialect = self.engine.dialect
        try:
            with dbapi.pipeline():
                for cursor, batch in zip(cursors, batches, strict=True):
                    if batch.together is not None:
                        prepared = batch.together.prepared(dialect)
                        given = lists(batch.parameters, batch.parameters[0])
                        cursor.execute(prepared.sql, prepared.parameters(given), prepare=True)
                        continue
                    prepared = batch.statement.prepared(dialect)
                    cursor.executemany(
                        prepared.sql, [prepared.parameters(p) for p in batch.parameters]
                    )
        except psycopg.Error as error:
            self._abandon(self._failed(error, cursors[0], "(a batch of writes)"))
        for cursor, batch in zip(cursors, batches, strict=True):
            if batch.short is not None and cursor.rowcount < len(batch.parameters):
                self._abandon(batch.short(0))

    def _run_plainly(self, batch: Batch) -> None:
        construct = batch.statement.construct(self.dialect)
        try:
            if batch.short is None:
                self.execute(construct, list(batch.parameters))
                return
            for index, parameters in enumerate(batch.parameters):
                if not changed(self.execute(construct, parameters)):
                    raise batch.short(index)
        except GoatError as error:
            self._abandon(error)

    def _abandon(self, error: GoatError) -> NoReturn:
        """Roll back, then raise ``error``."""
        with contextlib.suppress(GoatError):
            self.rollback()
        raise error

    def _cursor(self, *, writes: bool) -> psycopg.Cursor[Any]:
        """The psycopg cursor of this unit of work's connection; ``writes`` opens the
        transaction."""
        connection = self._active()
        try:
            if writes and not self._wrote:
                self._reads_alone(False)  # BEGIN goes out with this statement
                self._wrote = True
                if not connection.in_transaction():
                    connection.begin()  # so that commit(), rollback() and close() end it
            pooled = connection.connection
        except exc.SQLAlchemyError as error:
            raise translate(error) from error
        dbapi = pooled.dbapi_connection
        if not isinstance(dbapi, psycopg.Connection):  # pragma: no cover
            raise RuntimeError("prepared statements need a psycopg connection")
        # The cursors are kept with the pooled connection across checkouts: a cursor
        # caches how to dump parameters and load columns, which a new one must redo.
        cursors: list[psycopg.Cursor[Any]] | None = pooled.info.get(_CURSORS)
        if cursors is None or cursors[0].connection is not dbapi:
            cursors = pooled.info[_CURSORS] = [dbapi.cursor()]
        return cursors[0]

    def _cursors(self, count: int, *, writes: bool) -> list[psycopg.Cursor[Any]]:
        """``count`` cursors of this unit of work's connection (see ``_cursor``)."""
        first = self._cursor(writes=writes)
        cursors: list[psycopg.Cursor[Any]] = self._active().connection.info[_CURSORS]
        while len(cursors) < count:
            cursors.append(first.connection.cursor())
        return cursors[:count]

    def _failed(
        self,
        error: psycopg.Error,
        cursor: psycopg.Cursor[Any],
        sql: str,
    ) -> GoatError:
        """The goat error for a psycopg error; a broken connection leaves the pool."""
        broken = cursor.connection.broken or cursor.connection.closed
        if broken:
            connection = self._active()
            connection.connection.info.pop(_CURSORS, None)
            connection.invalidate(error)
        return translate_psycopg(error, sql, broken=broken)

    def _reads_alone(self, alone: bool) -> None:
        """Let statements run outside a transaction (PostgreSQL, before the first write)."""
        if self._postgres:
            dbapi = self._active().connection.dbapi_connection
            if dbapi is not None:  # None once the connection was invalidated
                dbapi.autocommit = alone

    def _active(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("use the unit of work inside its with block")
        return self._connection
