"""How the SQL unit of work holds its transaction on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from goat_adapters.sql import SqlDatabase
from goat_core.errors import NotEnoughBonds, NotEnoughMoney
from goat_core.model import LedgerKind, MatchState
from goat_core.ports import Sale
from tests.contract.builders import fixture, purchase

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.integration


def test_writes_are_invisible_to_others_until_commit(fresh_database_url: str) -> None:
    """Another connection sees neither a write nor its reservation before commit(), then both."""
    database = SqlDatabase(fresh_database_url)
    with database.unit_of_work() as writer, database.unit_of_work() as reader:
        writer.fixtures.upsert_many([fixture(1)], 40, NOW)
        assert reader.fixtures.get(1) is None
        writer.commit()
        seen = reader.fixtures.get(1)
        assert seen is not None
        assert seen.available_bonds == 40
        assert writer.fixtures.reserve(1, 5) == 5
        seen = reader.fixtures.get(1)
        assert seen is not None
        assert seen.available_bonds == 40
        writer.commit()
        seen = reader.fixtures.get(1)
        assert seen is not None
        assert seen.available_bonds == 35
    database.dispose()


def test_reads_before_the_first_write_see_the_latest_commit(fresh_database_url: str) -> None:
    """A unit of work's reads see each other's commits as they happen (READ COMMITTED)."""
    database = SqlDatabase(fresh_database_url)
    with database.unit_of_work() as setup:
        setup.fixtures.upsert_many([fixture(1)], 40, NOW)
        setup.commit()
    with database.unit_of_work() as reader:
        assert reader.inbox.remember("first write opens the transaction")
        before = reader.fixtures.get(1)
        with database.unit_of_work() as other:
            assert other.fixtures.reserve(1, 3) == 3
            other.commit()
        after = reader.fixtures.get(1)
        reader.commit()
    assert before is not None
    assert after is not None
    assert (before.available_bonds, after.available_bonds) == (40, 37)
    database.dispose()


def test_a_unit_of_work_is_used_inside_its_block_only(fresh_database_url: str) -> None:
    """Using a unit of work outside its with block, or entering it twice, is a programming error."""
    database = SqlDatabase(fresh_database_url)
    uow = database.unit_of_work()
    with pytest.raises(RuntimeError):
        uow.fixtures.get(1)
    with uow, pytest.raises(RuntimeError), uow:
        pass
    database.dispose()


def test_a_failed_sale_rolls_the_whole_transaction_back(fresh_database_url: str) -> None:
    """After sales.record() fails, even a caller that commits keeps nothing of the unit of work."""
    database = SqlDatabase(fresh_database_url)
    with database.unit_of_work() as setup:
        setup.fixtures.upsert_many([fixture(1)], 40, NOW)
        setup.wallets.credit("alice", 1000, LedgerKind.TOP_UP, None, NOW)
        setup.commit()
    with database.unit_of_work() as careless:
        assert careless.inbox.remember("written before the sale")
        with pytest.raises(NotEnoughBonds):
            careless.sales.record([Sale(purchase("r1", quantity=41), 500, "{}")], NOW)
        careless.commit()
    with database.unit_of_work() as reader:
        assert reader.purchases.get("r1") is None
        assert reader.wallets.balances({"alice"}) == {"alice": 1000}
        assert reader.outbox.backlog() == 0
        assert reader.inbox.remember("written before the sale")
        found = reader.fixtures.get(1)
    assert found is not None
    assert found.available_bonds == 40
    database.dispose()


def test_after_a_failed_sale_the_unit_of_work_goes_on(fresh_database_url: str) -> None:
    """After a failed sale the unit of work goes on: the next write opens a new transaction."""
    database = SqlDatabase(fresh_database_url)
    with database.unit_of_work() as uow:
        uow.fixtures.upsert_many([fixture(1)], 40, NOW)
        uow.commit()
        with pytest.raises(NotEnoughMoney):
            uow.sales.record([Sale(purchase("r1"), 500, "{}")], NOW)
        assert uow.fixtures.reserve(1, 2) == 2
        uow.commit()
    with database.unit_of_work() as reader:
        found = reader.fixtures.get(1)
        assert reader.purchases.get("r1") is None
    assert found is not None
    assert found.available_bonds == 38
    database.dispose()


def test_sixteen_busy_threads_reuse_their_connections(fresh_database_url: str) -> None:
    """An API process serving 16 clients at once keeps its connections: none is opened per
    request (a new PostgreSQL process each, and its prepared statements lost)."""
    database = SqlDatabase(fresh_database_url)
    seen: set[int] = set()
    failed: list[BaseException] = []
    start = threading.Barrier(16)

    def serve() -> None:
        start.wait()
        try:
            serve_requests()
        except BaseException as error:
            failed.append(error)

    def serve_requests() -> None:
        for turn in range(30):
            with database.unit_of_work() as uow:
                pid = uow.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
                seen.add(pid)
            time.sleep(0.001 * (turn % 4))  # answering the client: the connection is idle

    threads = [threading.Thread(target=serve) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    database.dispose()
    assert not failed
    assert 1 <= len(seen) <= 16


def test_fixtures_in_play_change_status_without_waiting_for_each_other(
    fresh_database_url: str,
) -> None:
    """Half-time in one match while another's transaction is open on its own half-time:
    neither waits (only a start or an end moves the page totals' tally row)."""
    database = SqlDatabase(fresh_database_url, lock_timeout_ms=300)
    with database.unit_of_work() as uow:
        uow.fixtures.upsert_many([fixture(1, status="1H"), fixture(2, status="1H")], 40, NOW)
        uow.commit()
    with database.unit_of_work() as first, database.unit_of_work() as second:
        first.fixtures.apply_result(MatchState(1, "HT", "Halftime", 45, 0, 0), NOW)
        second.fixtures.apply_result(MatchState(2, "HT", "Halftime", 45, 1, 0), NOW)
        second.commit()
        first.commit()
    database.dispose()
