"""Who relays an outbox: a PostgreSQL session-level advisory lock (``ports.OutboxLease``).

One key per outbox: the broker outbox (``OUTBOX_LEASE_KEY``, the messages a listener
publishes) and the job outbox (``JOB_LEASE_KEY``, the jobs a relay hands to the job
queue). The holder keeps one connection of its own with ``pg_try_advisory_lock`` taken on
it. Nobody waits for the lock: a standby asks again every few seconds. When the holder's
process dies, its connection goes and PostgreSQL releases the lock, so a standby takes
over; a holder whose connection broke finds out at its next ``acquire`` and stands down.
SQLite is one process (``goat serve``): its lease is always granted.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from goat_adapters.sql.errors import translate

__all__ = ["JOB_LEASE_KEY", "KEEPALIVES", "OUTBOX_LEASE_KEY", "SqlOutboxLease"]

log = logging.getLogger("goat.sql")

OUTBOX_LEASE_KEY = 0x60A7_0B0C
"""The broker outbox's advisory lock key: the same for every process on the database."""
JOB_LEASE_KEY = 0x60A7_0B0D
"""The job outbox's advisory lock key: the same for every process on the database."""
KEEPALIVES = {
    "tcp_keepalives_idle": 10,
    "tcp_keepalives_interval": 5,
    "tcp_keepalives_count": 3,
    "tcp_user_timeout": 25_000,
}
"""The lease session's TCP settings on the server's side: a first probe after 10 s of
silence, then every 5 s, the session ended after 3 unanswered, or when what the server
sent stays unacknowledged for 25 s (milliseconds)."""


class SqlOutboxLease:
    """``ports.OutboxLease`` on a database: one holder of ``key`` at a time among all
    processes."""

    def __init__(self, engine: Engine, key: int = OUTBOX_LEASE_KEY) -> None:
        self.engine = engine
        self.key = key
        self._own: Engine | None = None  # the lease's connection comes from its own pool
        self._connection: Connection | None = None
        self._held = False
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether this holder had the lease at its last ``acquire``."""
        return self._held

    def acquire(self) -> bool:
        """Take the lease, or confirm it is still ours; never waits for another holder."""
        if self.engine.dialect.name != "postgresql":
            self._held = True
            return True
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                if self._held:
                    # still ours while the session that holds it lives
                    self._connection.execute(sa.text("SELECT 1"))
                else:
                    self._held = bool(
                        self._connection.execute(
                            sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                        ).scalar_one()
                    )
            except exc.SQLAlchemyError as error:
                self._drop()
                raise translate(error) from error
            return self._held

    def release(self) -> None:
        """Give the lease up (idempotent); a standby takes it at its next try."""
        with self._lock:
            if self._connection is not None and self._held:
                try:
                    self._connection.execute(
                        sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
                    )
                except exc.SQLAlchemyError as error:
                    log.warning("could not release the lease %#x: %s", self.key, error)
            self._drop()

    def _connect(self) -> Connection:
        """A connection outside the engine's pool: held as long as the lease (standing by
        too), it would take one of the connections the pool is sized for.

        Its server process probes the client every few seconds (TCP keepalives): if the
        holder's host dies or drops off the network, PostgreSQL ends the session, and
        releases the lease, in about half a minute rather than the system's two hours."""
        if self._own is None:
            self._own = sa.create_engine(self.engine.url, pool=self.engine.pool.recreate())
        connection = self._own.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            for name, value in KEEPALIVES.items():
                connection.execute(sa.text(f"SET {name} = {int(value)}"))
        except exc.SQLAlchemyError:
            connection.invalidate()
            connection.close()
            raise
        return connection

    def _drop(self) -> None:
        """Close the lease's connection: whatever it held is released with it."""
        self._held = False
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()  # never back to the pool with a lock on it
                connection.close()
            except exc.SQLAlchemyError:
                pass
