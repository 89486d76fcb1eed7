"""Engines, the unit of work, and the translation of driver errors into goat's errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, CursorResult, Engine
from sqlalchemy.sql import Executable

from goat_adapters.sql.repositories import (
    Parameters,
    SqlAuctions,
    SqlDeadLetters,
    SqlFixtureRepository,
    SqlInbox,
    SqlOutbox,
    SqlParkedValidations,
    SqlPurchaseRepository,
    SqlRecommendationRepository,
    SqlUserRepository,
    SqlWalletRepository,
)
from goat_core import ports
from goat_core.errors import Busy, Conflict, GoatError, InvalidInput, Unavailable

log = logging.getLogger("goat.sql")

# SQLSTATEs after which the same transaction may simply be tried again
_RETRYABLE = {
    "55P03",  # lock_not_available: lock_timeout expired
    "40P01",  # deadlock_detected
    "40001",  # serialization_failure
    "57014",  # query_canceled (statement_timeout)
}
_SCHEMA_MISSING = {"42P01", "42703"}  # undefined table / column
_CURSOR = "goat.cursor"  # where a pooled PostgreSQL connection keeps run()'s cursor


def database_url(url: str) -> URL:
    """The SQLAlchemy URL for ``GOAT_DATABASE_URL``: PostgreSQL through psycopg 3, or SQLite.

    Raises ``InvalidInput`` naming the setting for anything else, and for an in-memory
    SQLite database (each connection would see a different, empty one).
    """
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError:
        raise InvalidInput("GOAT_DATABASE_URL", "not a database URL") from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise InvalidInput("GOAT_DATABASE_URL", "SQLite needs a file: sqlite:////path/goat.db")
        return parsed.set(drivername="sqlite+pysqlite")
    raise InvalidInput("GOAT_DATABASE_URL", "must start with postgresql:// or sqlite:///")


def make_engine(
    url: str,
    *,
    lock_timeout_ms: int = 2000,
    pool_size: int = 10,
    max_overflow: int = 10,
    echo: bool = False,
) -> Engine:
    """A configured engine for ``url``; nothing connects until it is used.

    PostgreSQL sessions get ``lock_timeout`` (a lock not granted in time raises ``Busy``).
    SQLite runs in WAL mode with a busy timeout of the same bound, and every transaction
    starts with ``BEGIN IMMEDIATE``: it takes the write lock up front, so two threads can
    never both read a value and then write from it.
    """
    target = database_url(url)
    if target.get_backend_name() == "postgresql":
        return sa.create_engine(
            target,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # session-wide, so it costs no extra round trip per transaction
            connect_args={"options": f"-c lock_timeout={int(lock_timeout_ms)}"},
        )
    assert target.database is not None
    Path(target.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        target,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        connect_args={"timeout": lock_timeout_ms / 1000},
    )
    event.listen(engine, "connect", _sqlite_connected)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connected(dbapi_connection: Any, connection_record: Any) -> None:
    # sqlite3's own transaction handling would BEGIN lazily (deferred) before the first
    # write; we emit BEGIN ourselves (see _sqlite_begin)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def translate(error: exc.SQLAlchemyError) -> GoatError:
    """The goat error for a SQLAlchemy or driver error (see ``goat_core.errors``)."""
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)
    message = str(original or error).strip().splitlines()[0] if str(original or error) else ""
    if isinstance(error, exc.TimeoutError):
        return Busy(f"no database connection free in time: {error}")
    if sqlstate in _RETRYABLE or "database is locked" in message or "table is locked" in message:
        return Busy(f"the database is busy: {message}")
    if sqlstate in _SCHEMA_MISSING or "no such table" in message:
        return Unavailable(
            f"the database schema is not up to date (run goat db upgrade): {message}"
        )
    if isinstance(error, exc.IntegrityError):
        return Conflict(f"the database refused a change: {message}")
    if isinstance(error, exc.DataError):
        return InvalidInput("", f"a value does not fit the database: {message}")
    return Unavailable(f"the database cannot be used: {message}")


@contextmanager
def translated() -> Iterator[None]:
    """Run a block, letting out only goat errors."""
    try:
        yield
    except exc.SQLAlchemyError as error:
        raise translate(error) from error


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
        pool_size: int = 10,
        max_overflow: int = 10,
        echo: bool = False,
    ) -> None:
        self.url = url
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
    BEGIN and no COMMIT round trip. The statements of the purchase path skip SQLAlchemy
    there (``run()``): psycopg executes them as server-side prepared statements on the
    same connection, in the same transaction; and the writes of a purchase are deferred
    (``defer()``) to go out together, once for a whole lot of purchases.
    """

    # typed as the ports: a Protocol's attributes are invariant, so this is what makes
    # ``SqlDatabase.unit_of_work`` a ``UnitOfWorkFactory`` without a cast
    fixtures: ports.FixtureRepository
    purchases: ports.PurchaseRepository
    users: ports.UserRepository
    wallets: ports.WalletRepository
    outbox: ports.Outbox
    inbox: ports.Inbox
    parked: ports.ParkedValidations
    dead_letters: ports.DeadLetters
    auctions: ports.Auctions
    recommendations: ports.RecommendationRepository

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._wrote = False
        # defer()'s writes not sent yet: parameter sets by statement, each with the error
        # to raise if it changes no row
        self._deferred: dict[str, list[tuple[Mapping[str, Any], GoatError]]] = {}
        self._lazy_begin = engine.dialect.name == "postgresql"
        #: whether ``run()`` may be used: PostgreSQL through psycopg
        self.prepares = self._lazy_begin and engine.dialect.driver == "psycopg"
        self.fixtures = SqlFixtureRepository(self)
        self.purchases = SqlPurchaseRepository(self)
        self.users = SqlUserRepository(self)
        self.wallets = SqlWalletRepository(self)
        self.outbox = SqlOutbox(self)
        self.inbox = SqlInbox(self)
        self.parked = SqlParkedValidations(self)
        self.dead_letters = SqlDeadLetters(self)
        self.auctions = SqlAuctions(self)
        self.recommendations = SqlRecommendationRepository(self)

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
                self._deferred = {}  # never sent: nothing to undo
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
        """Make every change durable and visible at once.

        Raises the error of a deferred write that changed nothing, and then commits nothing.
        """
        self._sync()
        with translated():
            self._active().commit()
            self._wrote = False
            self._reads_alone(True)

    def rollback(self) -> None:
        """Forget every change since the last commit."""
        self._deferred = {}
        with translated():
            self._active().rollback()
            self._wrote = False
            self._reads_alone(True)

    def execute(self, statement: Executable, parameters: Parameters = None) -> CursorResult[Any]:
        """Run one statement in this transaction, with errors translated."""
        self._sync()
        with translated():
            if not self._wrote and _writes(statement):
                self._reads_alone(False)  # BEGIN goes out with this statement
                self._wrote = True
            return self._active().execute(statement, parameters)

    def run(
        self, sql: str, parameters: Mapping[str, Any], *, writes: bool = True
    ) -> psycopg.Cursor[Any]:
        """Run one PostgreSQL statement straight on psycopg, prepared on the server.

        For the hottest statements only (a purchase's): SQLAlchemy's execution layer
        costs as much CPU per statement as psycopg itself. The statement joins this unit
        of work's transaction exactly as ``execute()`` would (``writes`` opens it, as a
        locking read must), errors leave translated, and a connection found broken is
        invalidated so that the pool replaces it. Only when ``prepares`` is true.
        """
        self._sync()
        cursor = self._cursor(writes=writes)
        try:
            cursor.execute(sql, parameters, prepare=True)
        except psycopg.Error as error:
            raise self._failed(error, cursor, sql, parameters) from error
        return cursor

    def defer(self, sql: str, parameters: Mapping[str, Any], error: GoatError) -> None:
        """A PostgreSQL write sent later, with others; ``error`` if it changes no row.

        Deferred writes wait in this unit of work until the next statement that is not
        deferred, or ``commit()``. Then each statement goes out once for all its
        parameter sets (``executemany``), statements in the order each was first
        deferred, all in one psycopg pipeline: a lot of purchases costs one round trip
        instead of three per purchase. If a statement changed fewer rows than it was
        given parameter sets, the ``error`` of its first set is raised (and nothing is
        committed). Only when ``prepares`` is true.
        """
        self._deferred.setdefault(sql, []).append((parameters, error))

    def _sync(self) -> None:
        """Send the deferred writes; raise if one of them changed nothing."""
        if not self._deferred:
            return
        deferred, self._deferred = self._deferred, {}
        dbapi = self._cursor(writes=True).connection
        cursors = [dbapi.cursor() for _ in deferred]  # each keeps its statement's row count
        try:
            with dbapi.pipeline():
                for cursor, (sql, writes) in zip(cursors, deferred.items(), strict=True):
                    cursor.executemany(sql, [parameters for parameters, _ in writes])
        except psycopg.Error as error:
            failure: GoatError = self._failed(error, cursors[0], "(deferred writes)", {})
        else:
            short = (
                writes[0][1]
                for cursor, writes in zip(cursors, deferred.values(), strict=True)
                if cursor.rowcount < len(writes)
            )
            if (found := next(short, None)) is None:
                return
            failure = found
        # nothing of this transaction may be committed now, whatever the caller does next
        with contextlib.suppress(GoatError):
            self.rollback()
        raise failure

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
            raise RuntimeError("run() needs a psycopg connection")
        # One cursor per pooled connection, kept with it across checkouts: a cursor
        # caches how to dump parameters and load columns, which a new one must redo.
        cursor: psycopg.Cursor[Any] | None = pooled.info.get(_CURSOR)
        if cursor is None or cursor.connection is not dbapi:
            cursor = pooled.info[_CURSOR] = dbapi.cursor()
        return cursor

    def _failed(
        self,
        error: psycopg.Error,
        cursor: psycopg.Cursor[Any],
        sql: str,
        parameters: Mapping[str, Any],
    ) -> GoatError:
        """The goat error for a psycopg error; a broken connection leaves the pool."""
        broken = cursor.connection.broken or cursor.connection.closed
        if broken:
            connection = self._active()
            connection.connection.info.pop(_CURSOR, None)
            connection.invalidate(error)
        return translate(
            exc.DBAPIError.instance(
                sql, parameters, error, psycopg.Error, connection_invalidated=broken
            )
        )

    def _reads_alone(self, alone: bool) -> None:
        """Let statements run outside a transaction (PostgreSQL, before the first write)."""
        if self._lazy_begin:
            dbapi = self._active().connection.dbapi_connection
            if dbapi is not None:  # None once the connection was invalidated
                dbapi.autocommit = alone

    def _active(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("use the unit of work inside its with block")
        return self._connection


def _writes(statement: Executable) -> bool:
    """Whether a statement changes rows or locks them (SELECT ... FOR UPDATE)."""
    if isinstance(statement, sa.Select):
        return getattr(statement, "_for_update_arg", None) is not None
    return True
