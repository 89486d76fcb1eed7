"""Engines: the URL goat accepts, and the configured engine for PostgreSQL or SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine

from goat_core.errors import InvalidInput

__all__ = ["database_url", "make_engine", "postgres_options"]


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
    pool_size: int = 20,
    max_overflow: int = 0,
    echo: bool = False,
) -> Engine:
    """A configured engine for ``url``; nothing connects until it is used.

    PostgreSQL sessions get ``lock_timeout`` (a lock not granted in time raises ``Busy``).
    SQLite runs in WAL mode with a busy timeout of the same bound, and every transaction
    starts with ``BEGIN IMMEDIATE``: it takes the write lock up front, so two threads can
    never both read a value and then write from it.

    The pool keeps up to ``pool_size`` connections open between uses, and by default
    opens no more: a connection opened and closed per request (an overflow) costs
    PostgreSQL a new process and loses the statements prepared on it. 20 serve the 16
    clients a busy API process answers at once (a purchase waiting for its lot holds
    none); a 21st caller waits for one. On PostgreSQL an API process also holds the
    connection its event loop writes lots on (``SqlAsyncSaleLedger``), and each relay its
    lease's (``SqlOutboxLease``, outside the pool): 22 at most, for an API process (the
    job lease) as for a listener (the job and outbox leases).
    """
    target = database_url(url)
    if target.get_backend_name() == "postgresql":
        return sa.create_engine(
            target,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # session-wide, so it costs no extra round trip per transaction; in UTC, psycopg
            # reads every instant already in the zone the core uses (UtcDateTime keeps it);
            # generic plans: a prepared statement is planned once, not at every execution
            # (with LIMIT and OFFSET as parameters PostgreSQL expects a tenth of the rows,
            # finds the generic plan dearer, and plans again each time: 0.3 ms a page)
            connect_args={"options": postgres_options(lock_timeout_ms)},
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


def postgres_options(lock_timeout_ms: int) -> str:
    """The session settings of every PostgreSQL connection (``make_engine``)."""
    return (
        f"-c lock_timeout={int(lock_timeout_ms)} -c timezone=UTC"
        " -c plan_cache_mode=force_generic_plan"
    )


def _sqlite_connected(dbapi_connection: Any, connection_record: Any) -> None:
    # sqlite3's own transaction handling would BEGIN lazily (deferred) before the first
    # write; we emit BEGIN ourselves (see _sqlite_begin)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
