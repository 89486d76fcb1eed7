"""The SQL adapter lets out only goat errors: Busy, Unavailable, InvalidInput."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from goat_adapters.sql import SqlDatabase, database_url, upgrade
from goat_core.errors import Busy, Deadlock, InvalidInput, Unavailable
from goat_core.model import LedgerKind
from goat_core.ports import Sale
from tests.contract.builders import fixture, purchase
from tests.servers.postgres import PostgresServer, free_port

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://goat@db.invalid:5432/goat", "postgresql+psycopg"),
        ("postgres://goat@db.invalid/goat", "postgresql+psycopg"),
        ("postgresql+psycopg://goat@db.invalid/goat", "postgresql+psycopg"),
        ("sqlite:////var/lib/goat/goat.db", "sqlite+pysqlite"),
    ],
)
def test_database_urls_map_to_our_drivers(given: str, driver: str) -> None:
    """GOAT_DATABASE_URL's postgresql:// uses psycopg 3, and sqlite:/// the standard driver."""
    assert database_url(given).drivername == driver


@pytest.mark.parametrize("given", ["mysql://x@y/z", "sqlite://", "sqlite:///:memory:", "nonsense"])
def test_other_database_urls_are_refused_naming_the_setting(given: str) -> None:
    """Unsupported or in-memory database URLs raise InvalidInput naming GOAT_DATABASE_URL."""
    with pytest.raises(InvalidInput) as raised:
        database_url(given)
    assert raised.value.field == "GOAT_DATABASE_URL"


def test_unreachable_postgres_is_unavailable() -> None:
    """A database nobody listens for raises Unavailable, on first use, not at construction."""
    database = SqlDatabase(f"postgresql://goat@127.0.0.1:{free_port()}/goat")
    with pytest.raises(Unavailable):
        database.check()
    with pytest.raises(Unavailable), database.unit_of_work() as uow:
        uow.fixtures.get(1)
    database.dispose()


def test_unmigrated_database_is_unavailable_and_says_to_upgrade(tmp_path: Path) -> None:
    """Querying a database without the schema raises Unavailable telling to run the upgrade."""
    database = SqlDatabase(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(Unavailable, match="goat db upgrade"), database.unit_of_work() as uow:
        uow.fixtures.get(1)
    database.dispose()


def hold_lock_while(url: str, attempt: threading.Event, done: threading.Event) -> None:
    """Reserve a bond and keep the transaction open until ``done``."""
    database = SqlDatabase(url, lock_timeout_ms=10_000)
    with database.unit_of_work() as uow:
        assert uow.fixtures.reserve(1, 1) == 1
        attempt.set()
        done.wait(timeout=30)
        uow.commit()
    database.dispose()


@pytest.mark.integration
def test_a_lock_cycle_is_a_deadlock_for_one_side_only(fresh_database_url: str) -> None:
    """Two transactions crediting alice and bob in opposite orders: PostgreSQL aborts one,
    which gets ``Deadlock`` (a ``Busy``: nothing of it kept), and the other commits."""
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=30_000)
    both_hold_one = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def credit(first: str, second: str) -> None:
        try:
            with database.unit_of_work() as uow:
                uow.wallets.credit(first, 100, LedgerKind.TOP_UP, None, NOW)
                both_hold_one.wait()
                uow.wallets.credit(second, 100, LedgerKind.TOP_UP, None, NOW)
                uow.commit()
            outcomes.append("committed")
        except Deadlock:
            outcomes.append("deadlock")

    with database.unit_of_work() as uow:  # both rows exist: each credit locks one
        for user in ("alice", "bob"):
            uow.wallets.credit(user, 1, LedgerKind.TOP_UP, None, NOW)
        uow.commit()
    threads = [
        threading.Thread(target=credit, args=pair) for pair in (("alice", "bob"), ("bob", "alice"))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["committed", "deadlock"]
        with database.unit_of_work() as uow:
            assert uow.wallets.balances({"alice", "bob"}) == {"alice": 101, "bob": 101}
    finally:
        database.dispose()


@pytest.mark.parametrize(
    "url_fixture", ["sqlite_url", pytest.param("fresh_database_url", marks=pytest.mark.integration)]
)
def test_lock_not_granted_in_time_is_busy_and_retry_works(
    url_fixture: str, request: pytest.FixtureRequest
) -> None:
    """A writer waiting longer than lock_timeout_ms gets Busy (a reservation, a lot of sales,
    after which its unit of work goes on); once the lock is free it succeeds."""
    url = request.getfixturevalue(url_fixture)
    setup = SqlDatabase(url)
    with setup.unit_of_work() as uow:
        uow.fixtures.upsert_many([fixture()], 40, NOW)
        uow.commit()
    setup.dispose()

    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_lock_while, args=(url, locked, release))
    holder.start()
    impatient = SqlDatabase(url, lock_timeout_ms=100)
    try:
        assert locked.wait(timeout=30)
        with pytest.raises(Busy), impatient.unit_of_work() as uow:
            uow.fixtures.reserve(1, 1)
        with impatient.unit_of_work() as uow:  # a lot sent at once
            with pytest.raises(Busy):
                uow.sales.record([Sale(purchase("r1", user_id=None, quantity=1), 0, "{}")], NOW)
            release.set()
            holder.join()
            assert uow.inbox.remember("after a busy lot")  # the unit of work goes on
            uow.commit()
    finally:
        release.set()
        holder.join()
    with impatient.unit_of_work() as uow:
        assert uow.fixtures.reserve(1, 1) == 1
        uow.sales.record([Sale(purchase("r1", user_id=None, quantity=1), 0, "{}")], NOW)
        uow.commit()
        found = uow.fixtures.get(1)
        assert not uow.inbox.remember("after a busy lot")  # committed
    assert found is not None
    assert found.available_bonds == 37
    impatient.dispose()


@pytest.mark.integration
def test_postgres_going_down_is_unavailable_not_a_driver_error(
    postgres_server: PostgresServer,
) -> None:
    """When a running PostgreSQL stops, pooled work raises Unavailable, never psycopg's errors."""
    with PostgresServer(postgres_server.bin_dir) as server:
        upgrade(server.url())
        database = SqlDatabase(server.url())
        with database.unit_of_work() as uow:  # fill the pool with a live connection
            uow.fixtures.upsert_many([fixture()], 40, NOW)
            uow.commit()
        server.stop()
        with pytest.raises(Unavailable), database.unit_of_work() as uow:
            uow.fixtures.get(1)
        with pytest.raises(Unavailable), database.unit_of_work() as uow:
            uow.inbox.remember("key")
        with pytest.raises(Unavailable):
            database.check()
        database.dispose()
