"""``SqlOutboxLease``: one holder among processes on PostgreSQL, always granted on SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from goat_adapters.sql import JOB_LEASE_KEY, SqlDatabase, SqlOutboxLease
from goat_adapters.sql.lease import KEEPALIVES, OUTBOX_LEASE_KEY
from goat_core.errors import Unavailable

LeaseOf = Callable[..., SqlOutboxLease]


def test_sqlite_grants_the_lease_to_its_one_process(sqlite_url: str) -> None:
    """On SQLite (one process) every relay holds the lease: there is nobody to share with."""
    database = SqlDatabase(sqlite_url)
    try:
        assert SqlOutboxLease(database.engine).acquire()
        assert SqlOutboxLease(database.engine).acquire()
    finally:
        database.dispose()


@pytest.fixture
def lease_of(fresh_database_url: str) -> Iterator[LeaseOf]:
    """``lease_of(process, key)``: a lease of process 0 or 1, each with a pool of its own on
    one PostgreSQL database, as two processes have; all released at the end."""
    databases = [SqlDatabase(fresh_database_url) for _ in range(2)]
    made: list[SqlOutboxLease] = []

    def lease_of(process: int, key: int = OUTBOX_LEASE_KEY) -> SqlOutboxLease:
        made.append(SqlOutboxLease(databases[process].engine, key=key))
        return made[-1]

    yield lease_of
    for lease in made:
        lease.release()
    for database in databases:
        database.dispose()


@pytest.mark.integration
def test_one_holder_at_a_time_and_the_next_takes_over_on_release(lease_of: LeaseOf) -> None:
    """Of two processes' leases one is granted; after its release the other gets it."""
    first, second = lease_of(0), lease_of(1)
    assert first.acquire()
    assert not second.acquire()
    # held apart from the pools, which are sized for the processes' own work
    for lease in (first, second):
        assert lease.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert first.acquire()  # still ours
    first.release()
    assert not first.held
    assert second.acquire()
    assert not first.acquire()


@pytest.mark.integration
def test_a_holder_whose_session_dies_loses_the_lease(lease_of: LeaseOf) -> None:
    """The holder's connection killed, the lock is free for another, and the old holder
    learns at its next acquire that it lost it."""
    first, second = lease_of(0), lease_of(1)
    assert first.acquire()
    with second.engine.connect() as connection:
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND objid = :key AND granted"
            ),
            {"key": first.key},
        )
    assert second.acquire()
    with pytest.raises(Unavailable):
        first.acquire()
    assert not first.held
    assert not first.acquire()  # a new session, and the lock is taken


@pytest.mark.integration
def test_the_job_lease_is_held_apart_from_the_outbox_lease(lease_of: LeaseOf) -> None:
    """A process may hold the broker outbox's lease while another holds the job outbox's:
    each outbox has its own key."""
    assert lease_of(0).acquire()
    assert lease_of(1, JOB_LEASE_KEY).acquire()
    assert not lease_of(0, JOB_LEASE_KEY).acquire()


@pytest.mark.integration
def test_the_lease_session_probes_its_client(lease_of: LeaseOf) -> None:
    """The server side of the lease's session sends TCP keepalives every few seconds, so a
    holder whose host is gone loses the lease in about half a minute, not two hours."""
    lease = lease_of(0)
    assert lease.acquire()
    connection = lease._connection  # the session that holds the lock
    assert connection is not None
    for name, value in KEEPALIVES.items():
        assert connection.execute(sa.text(f"SHOW {name}")).scalar_one() == str(value)
