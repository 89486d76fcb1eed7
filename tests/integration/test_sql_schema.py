"""The shipped Alembic migrations build exactly the schema the SQL adapter queries."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from goat_adapters.sql import SqlDatabase, make_engine, tables, upgrade
from goat_adapters.sql.migrations import current, head
from goat_adapters.sql.sales import FELL_SHORT, Lot
from goat_adapters.sql.tables import metadata
from goat_core.errors import Unavailable
from goat_core.model import ENDED_STATUSES, NOT_STARTED_STATUSES, PurchaseStatus
from goat_core.ports import FixtureQuery, Sale
from tests.contract.builders import NOW, fixture, purchase


def differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_sqlite_migrations_match_the_tables(tmp_path: Path) -> None:
    """Migrating a new SQLite file gives the tables, columns, types and indexes of tables.py."""
    url = f"sqlite:///{tmp_path}/new/goat.db"  # the directory does not exist yet
    assert current(url) is None
    upgrade(url)
    assert current(url) == head()
    assert differences(url) == []


@pytest.mark.integration
def test_postgres_migrations_match_the_tables(empty_database_url: str) -> None:
    """Migrating an empty PostgreSQL database gives exactly the schema of tables.py."""
    upgrade(empty_database_url)
    assert current(empty_database_url) == head()
    assert differences(empty_database_url) == []


@pytest.mark.integration
def test_concurrent_upgrades_on_postgres_migrate_once(empty_database_url: str) -> None:
    """Several processes upgrading at once (many `goat api` starting) all succeed, once."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(empty_database_url)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current(empty_database_url) == head()


def test_upgrade_twice_is_harmless(sqlite_url: str) -> None:
    """Running the migrations on an up-to-date database changes nothing."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert list(versions.scalars()) == [head()]
    finally:
        engine.dispose()


def test_partial_indexes_name_the_models_statuses() -> None:
    """The partial indexes of the fixture pages hold exactly the statuses the model calls
    not started and ended, so that the pages' conditions can use them."""

    def listed(index_name: str) -> set[str]:
        index = next(i for i in tables.fixtures.indexes if i.name == index_name)
        where = str(index.dialect_options["postgresql"]["where"])
        return set(where.split("(", 1)[1].rstrip(")").replace("'", "").split(", "))

    assert listed("ix_fixtures_upcoming") == NOT_STARTED_STATUSES
    assert listed("ix_fixtures_open") == ENDED_STATUSES
    assert listed("ix_fixtures_ended") == ENDED_STATUSES
    assert listed("ix_fixtures_home_upcoming") == NOT_STARTED_STATUSES
    assert listed("ix_fixtures_away_upcoming") == NOT_STARTED_STATUSES


@pytest.mark.integration
def test_upgrading_to_0009_counts_the_purchases_already_stored(empty_database_url: str) -> None:
    """Each registered user's count of purchases starts from those stored before."""
    upgrade(empty_database_url, "0008")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO users (id, wallet) VALUES ('alice', 0)"))
            connection.execute(
                sa.text(
                    "INSERT INTO purchases (request_id, group_id, fixture_id, league_name,"
                    " round, date, result, quantity, reserved, wallet, created_at, status,"
                    " deposit_token, seller, user_id)"
                    " SELECT 'r' || n, '15', 1, 'L', 'R', '2024-10-05', 'home', 1, 1, true,"
                    " now(), 'pending', '', 0, (ARRAY['alice', 'bob', NULL])[1 + n % 3]"
                    " FROM generate_series(1, 7) AS n"
                )
            )
        upgrade(empty_database_url)
        with engine.connect() as connection:
            counts = connection.execute(sa.text("SELECT id, purchases FROM users ORDER BY id"))
            assert [tuple(row) for row in counts] == [("alice", 2)]  # bob never registered
    finally:
        engine.dispose()


@pytest.mark.integration
def test_a_users_total_is_read_from_their_row(fresh_database_url: str) -> None:
    """On PostgreSQL an unfiltered page's total is ``users.purchases``, not a count (but
    past the last page, which has no row to carry it)."""
    database = SqlDatabase(fresh_database_url)
    try:
        with database.unit_of_work() as uow:
            uow.users.get_or_create("alice", None, None)
            assert uow.purchases.add(purchase("r1"))
            uow.commit()
        with database.engine.begin() as connection:
            connection.execute(sa.text("UPDATE users SET purchases = 12345"))
        with database.unit_of_work() as uow:
            page, total = uow.purchases.page_for_user("alice", None, 1, 25)
            assert ([v.purchase.request_id for v in page], total) == (["r1"], 12345)
            assert uow.purchases.page_for_user("alice", None, 2, 25) == ([], 1)
            assert uow.purchases.page_for_user("alice", PurchaseStatus.WON, 1, 25) == ([], 0)
    finally:
        database.dispose()


@pytest.mark.parametrize(
    "dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def test_upgrading_to_0010_finds_the_teams_already_stored(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A team filter finds fixtures stored before ``team_names`` existed."""
    url = (
        request.getfixturevalue("empty_database_url")
        if dialect == "postgresql"
        else f"sqlite:///{tmp_path}/goat.db"
    )
    upgrade(url, "0009")
    database = SqlDatabase(url)
    try:
        with database.unit_of_work() as uow:
            uow.fixtures.upsert_many([fixture(1, home="Wolves", away="Spurs")], 40, NOW)
            uow.commit()
        upgrade(url)
        with database.unit_of_work() as uow:
            found, total = uow.fixtures.page(FixtureQuery(now=NOW, away="spur"))
        assert ([f.id for f in found], total) == ([1], 1)
    finally:
        database.dispose()


@pytest.mark.integration
def test_goat_sell_lot_writes_every_column_of_purchases(fresh_database_url: str) -> None:
    """``goat_sell_lot`` (migration 0012) reads every column of ``purchases`` from its
    JSON: a column added later without replacing the function would be left at its
    default in every purchase of the API, silently."""
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            definition = connection.execute(
                sa.text("SELECT pg_get_functiondef('goat_sell_lot'::regproc)")
            ).scalar_one()
    finally:
        engine.dispose()
    found = re.search(
        r"json_to_recordset\(purchases\) AS sale\((.*?)\)\s+ON CONFLICT", definition, re.S
    )
    assert found is not None, definition
    read = [column.split()[0] for column in found.group(1).split(",")]
    assert read == [column.name for column in tables.purchases.columns]


@pytest.mark.integration
def test_a_lot_on_a_database_not_upgraded_says_to_upgrade(empty_database_url: str) -> None:
    """A lot written on a database without ``goat_sell_lot`` (still at 0011) is
    ``Unavailable``, saying to run ``goat db upgrade``."""
    upgrade(empty_database_url, "0011")
    database = SqlDatabase(empty_database_url)
    try:
        with pytest.raises(Unavailable, match="goat db upgrade"), database.unit_of_work() as uow:
            uow.sales.record([Sale(purchase("r1", user_id=None), 0, "{}")], NOW)
    finally:
        database.dispose()


@pytest.mark.integration
@pytest.mark.parametrize("detail", [None, "bonds", "bonds 1", "bonds -1", "debits 0", "other 0"])
def test_an_error_goat_sell_lot_did_not_raise_is_no_refusal(
    fresh_database_url: str, detail: str | None
) -> None:
    """``Lot.refusal`` names a refusal only for details ``goat_sell_lot`` gives, of this
    lot (one fixture, no wallet sale); any other ``GL001`` is left as it is (no stack
    trace from an index out of range)."""
    lot = Lot([Sale(purchase("r1", user_id=None), 0, "{}")], NOW, [])
    using = f", DETAIL = '{detail}'" if detail is not None else ""
    raise_it = f"DO $$BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'GL001'{using}; END$$"
    with (
        psycopg.connect(fresh_database_url, autocommit=True) as connection,
        pytest.raises(psycopg.Error) as raised,
    ):
        connection.execute(raise_it)
    assert raised.value.sqlstate == FELL_SHORT
    assert lot.refusal(raised.value) is None
