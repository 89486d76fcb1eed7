"""``SqlOutboxLease``: one holder among processes on PostgreSQL, always granted on SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from goat_adapters.sql import JOB_LEASE_KEY, SqlDatabase, SqlOutboxLease
from goat_adapters.sql.lease import KEEPALIVES
from goat_core.errors import Unavailable


def test_sqlite_grants_the_lease_to_its_one_process(sqlite_url: str) -> None:
    """On SQLite (one process) every relay holds the lease: there is nobody to share with."""
    database = SqlDatabase(sqlite_url)
    try:
        assert SqlOutboxLease(database.engine).acquire()
        assert SqlOutboxLease(database.engine).acquire()
    finally:
        database.dispose()


@pytest.mark.integration
def test_one_holder_at_a_time_and_the_next_takes_over_on_release(fresh_database_url: str) -> None:
    """Of two processes' leases one is granted; after its release the other gets it."""
    one, two = SqlDatabase(fresh_database_url), SqlDatabase(fresh_database_url)
    first, second = SqlOutboxLease(one.engine), SqlOutboxLease(two.engine)
    try:
        assert first.acquire()
        assert not second.acquire()
        # held apart from the pools, which are sized for the processes' own work
        assert one.engine.pool.checkedout() == two.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert first.acquire()  # still ours
        first.release()
        assert not first.held
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()
        one.dispose()
        two.dispose()


@pytest.mark.integration
def test_a_holder_whose_session_dies_loses_the_lease(fresh_database_url: str) -> None:
    """The holder's connection killed, the lock is free for another, and the old holder
    learns at its next acquire that it lost it."""
    one, two = SqlDatabase(fresh_database_url), SqlDatabase(fresh_database_url)
    first, second = SqlOutboxLease(one.engine), SqlOutboxLease(two.engine)
    try:
        assert first.acquire()
        with two.engine.connect() as connection:
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
    finally:
        first.release()
        second.release()
        one.dispose()
        two.dispose()


@pytest.mark.integration
def test_the_job_lease_is_held_apart_from_the_outbox_lease(fresh_database_url: str) -> None:
    """A process may hold the broker outbox's lease while another holds the job outbox's:
    each outbox has its own key."""
    one, two = SqlDatabase(fresh_database_url), SqlDatabase(fresh_database_url)
    outbox, jobs = SqlOutboxLease(one.engine), SqlOutboxLease(two.engine, key=JOB_LEASE_KEY)
    other = SqlOutboxLease(one.engine, key=JOB_LEASE_KEY)
    try:
        assert outbox.acquire()
        assert jobs.acquire()
        assert not other.acquire()
    finally:
        outbox.release()
        jobs.release()
        other.release()
        one.dispose()
        two.dispose()


@pytest.mark.integration
def test_the_lease_session_probes_its_client(fresh_database_url: str) -> None:
    """The server side of the lease's session sends TCP keepalives every few seconds, so a
    holder whose host is gone loses the lease in about half a minute, not two hours."""
    database = SqlDatabase(fresh_database_url)
    lease = SqlOutboxLease(database.engine)
    try:
        assert lease.acquire()
        connection = lease._connection  # the session that holds the lock
        assert connection is not None
        for name, value in KEEPALIVES.items():
            assert connection.execute(sa.text(f"SHOW {name}")).scalar_one() == str(value)
    finally:
        lease.release()
        database.dispose()
